import os

_scratch = os.environ.get("COMPAT_SCRATCH", "/tmp/compat-scratch")
os.environ.setdefault("DJANGO_DB_DATABASE", os.path.join(_scratch, "db.sqlite3"))

from settings.main import *  # noqa: F401,F403,E402

from compat_common import finish  # noqa: E402

# the two offline contexts wger's settings use in production (its USE_S3 branch), with a local
# static url instead of the CDN's
finish(
    globals(),
    COMPRESS_OFFLINE_CONTEXT=[
        {"request": {"user_agent": {"is_mobile": True}}, "STATIC_URL": "/static/"},
        {"request": {"user_agent": {"is_mobile": False}}, "STATIC_URL": "/static/"},
    ],
)
