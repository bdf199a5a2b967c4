"""Settings overrides shared by every project's shim (compat/projects/<name>/compat_settings.py).

Each shim imports the project's own settings, then calls ``finish(globals())``.  The harness
passes the static root to use in ``COMPAT_STATIC_ROOT`` and a scratch folder in ``COMPAT_SCRATCH``.
Nothing here needs a database server or the network.
"""
import os
from pathlib import PurePath


def finish(g, **extra):
    scratch = os.environ.get("COMPAT_SCRATCH", "/tmp/compat-scratch")
    os.makedirs(scratch, exist_ok=True)
    g["SECRET_KEY"] = "compat-harness-not-secret"
    g["DEBUG"] = False
    g["DATABASES"] = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(scratch, "db.sqlite3"),
        }
    }
    g["CACHES"] = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    root = os.environ.get("COMPAT_STATIC_ROOT")
    if root:
        # keep the type the project uses (some settings do STATIC_ROOT / "name")
        if isinstance(g.get("STATIC_ROOT"), PurePath):
            root = type(g["STATIC_ROOT"])(root)
        g["STATIC_ROOT"] = root
        # compressor writes beside the collected files, as in production
        g["COMPRESS_ROOT"] = root
    g["COMPRESS_ENABLED"] = True
    g["COMPRESS_OFFLINE"] = True
    g.update(extra)
