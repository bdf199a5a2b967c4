from openstack_dashboard.settings import *  # noqa: F401,F403

from compat_common import finish  # noqa: E402

finish(globals())
