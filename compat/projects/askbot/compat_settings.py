import os

_scratch = os.environ.get("COMPAT_SCRATCH", "/tmp/compat-scratch")
os.makedirs(_scratch, exist_ok=True)
os.environ.setdefault("DATABASE_URL", "sqlite:///" + os.path.join(_scratch, "db.sqlite3"))

from testproject.settings import *  # noqa: F401,F403,E402

from compat_common import finish  # noqa: E402

# the test project still lists apps the package no longer has (askbot.deps.group_messaging) or
# needs (tinymce); drop them as askbot-setup's settings template does
INSTALLED_APPS = tuple(a for a in INSTALLED_APPS if a not in ("askbot.deps.group_messaging", "tinymce"))  # noqa: F405

# askbot's start-up self-test checks a production deployment (cache server, middleware order);
# offline compression needs none of it
ASKBOT_SELF_TEST = False
# the test project uses Google's reCAPTCHA test keys, which a system check refuses
SILENCED_SYSTEM_CHECKS = ["django_recaptcha.recaptcha_test_key_error"]

# uploads would go to a folder the checkout does not have
FILE_UPLOAD_TEMP_DIR = _scratch

finish(globals())
