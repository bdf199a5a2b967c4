import os

# pretix keeps its data (and reads its pretix.cfg) under DATA_DIR, created at import
os.environ.setdefault("DATA_DIR", os.environ.get("COMPAT_SCRATCH", "/tmp/compat-scratch"))
os.makedirs(os.environ["DATA_DIR"], exist_ok=True)

from pretix.settings import *  # noqa: F401,F403,E402

from compat_common import finish  # noqa: E402

finish(globals())
