import os

# byro keeps its data under BYRO_DATA_DIR, created at import
os.environ.setdefault("BYRO_DATA_DIR", os.environ.get("COMPAT_SCRATCH", "/tmp/compat-scratch"))

from byro.settings import *  # noqa: F401,F403,E402

from compat_common import finish  # noqa: E402

finish(globals())
