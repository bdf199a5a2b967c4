from hc.settings import *  # noqa: F401,F403

from compat_common import finish

finish(globals())
