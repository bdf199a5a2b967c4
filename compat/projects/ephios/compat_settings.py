import os

# ephios reads its configuration from the environment (django-environ); these are the values
# of its .env.example, with the data under the harness's scratch folder
_scratch = os.environ.get("COMPAT_SCRATCH", "/tmp/compat-scratch")
for _k, _v in {
    "ENV_PATH": os.path.join(_scratch, "no.env"),
    "DEBUG": "False",
    "SECRET_KEY": "compat-harness-not-secret",
    "DATABASE_URL": "sqlite:///" + os.path.join(_scratch, "db.sqlite3"),
    "DATA_DIR": _scratch,
    "ALLOWED_HOSTS": "*",
    "SITE_URL": "http://localhost:8000",
    "EMAIL_URL": "consolemail://",
    "DEFAULT_FROM_EMAIL": "webmaster@localhost",
    "SERVER_EMAIL": "root@localhost",
    "ADMINS": "Root User <root@localhost.dev>",
}.items():
    os.environ.setdefault(_k, _v)
if "COMPAT_STATIC_ROOT" in os.environ:
    os.environ["STATIC_ROOT"] = os.environ["COMPAT_STATIC_ROOT"]

from ephios.settings import *  # noqa: F401,F403,E402

from compat_common import finish  # noqa: E402

finish(globals())
