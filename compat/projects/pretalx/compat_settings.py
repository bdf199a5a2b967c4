import os

# pretalx keeps its data under PRETALX_DATA_DIR, created at import
os.environ.setdefault("PRETALX_DATA_DIR", os.environ.get("COMPAT_SCRATCH", "/tmp/compat-scratch"))
os.environ.setdefault("PRETALX_NO_INITIAL_LOG", "1")

from pretalx.settings import *  # noqa: F401,F403,E402

from compat_common import finish  # noqa: E402

finish(globals())
