import datetime
import os

import django.utils.timezone
import django.utils.translation as _translation

# biostar and django-recaptcha2 were written for Django 3.2; the peer needs Django 5.2, where
# timezone.utc and the ugettext names are gone
if not hasattr(django.utils.timezone, "utc"):
    django.utils.timezone.utc = datetime.timezone.utc
for _old, _new in (("ugettext", "gettext"), ("ugettext_lazy", "gettext_lazy"), ("ungettext", "ngettext")):
    if not hasattr(_translation, _old):
        setattr(_translation, _old, getattr(_translation, _new))

os.environ.setdefault("DATABASE_NAME", os.path.join(os.environ.get("COMPAT_SCRATCH", "/tmp/compat-scratch"), "db.sqlite3"))

from biostar.forum.settings import *  # noqa: F401,F403,E402

from compat_common import finish  # noqa: E402

# newer django-allauth (the 3.2-era one does not run on Django 5.2) wants its middleware
if "allauth.account.middleware.AccountMiddleware" not in MIDDLEWARE:  # noqa: F405
    MIDDLEWARE = list(MIDDLEWARE) + ["allauth.account.middleware.AccountMiddleware"]  # noqa: F405

finish(globals())
