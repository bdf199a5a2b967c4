"""The ``COMPRESS_*`` settings with django-compressor's defaults, without django-appconf.

``setting(name)`` is the project's value when it sets one, else the default django-compressor
would give it. ``settings.COMPRESS_URL`` (the ``settings`` object below) reads the same way, for
code written against ``compressor.conf.settings``. ``runtime()`` is what the template tags read
on every render, resolved once and resolved again when a test changes a setting.
"""

import os

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

_UNSET = object()


def _jinja2_environment():
    """The environment of the Jinja2 engine aliased ``jinja2``, as the offline build uses it."""
    from django.template import engines

    return engines["jinja2"].env


STATIC_DEFAULTS = {
    "COMPRESS_OFFLINE": False,
    "COMPRESS_OUTPUT_DIR": "CACHE",
    "COMPRESS_OFFLINE_MANIFEST": "manifest.json",
    "COMPRESS_URL_PLACEHOLDER": "/__compressor_url_placeholder__/",
    "COMPRESS_DEBUG_TOGGLE": None,
    "COMPRESS_PARSER": "compressor.parser.AutoSelectParser",
    "COMPRESS_CSS_HASHING_METHOD": "mtime",
    "COMPRESS_PRECOMPILERS": (),
    "COMPRESS_CACHEABLE_PRECOMPILERS": (),
    "COMPRESS_FILTERS": {
        "css": [
            "compressor.filters.css_default.CssAbsoluteFilter",
            "compressor.filters.cssmin.rCSSMinFilter",
        ],
        "js": ["compressor.filters.jsmin.rJSMinFilter"],
    },
    "COMPRESS_SRI_HASHES": (),
    "COMPRESS_SRI_CROSSORIGIN": None,
    "COMPRESS_JINJA2_GET_ENVIRONMENT": _jinja2_environment,
    # stapler's own: where servers read the manifest from, and which blocks get the nonce.
    "STAPLER_MANIFEST_URL": None,
    "STAPLER_MANIFEST_ENDPOINT_URL": None,
    "STAPLER_MANIFEST_TIMEOUT": 10,
    "STAPLER_CSP_NONCE": "auto",
}


def _static_url():
    return django_settings.STATIC_URL


def _computed_default(name):
    if name == "COMPRESS_ENABLED":
        return not django_settings.DEBUG
    if name == "COMPRESS_URL":
        return _static_url()
    if name == "COMPRESS_ROOT":
        return django_settings.STATIC_ROOT
    if name == "COMPRESS_OFFLINE_CONTEXT":
        return {"STATIC_URL": _static_url()}
    return _UNSET


def setting(name):
    """The project's value of ``name``, or django-compressor's default for it."""
    value = getattr(django_settings, name, _UNSET)
    if name == "COMPRESS_OFFLINE_CONTEXT" and not value:
        value = _UNSET  # an empty context means the default one, as for django-compressor
    if value is None and name in ("COMPRESS_URL", "COMPRESS_ROOT"):
        value = _UNSET
    if value is _UNSET:
        value = _computed_default(name)
    if value is _UNSET:
        if name not in STATIC_DEFAULTS:
            raise AttributeError("no such setting: %s" % name)
        value = STATIC_DEFAULTS[name]
    if name == "COMPRESS_URL" and value is not None and not str(value).endswith("/"):
        raise ImproperlyConfigured("COMPRESS_URL (STATIC_URL by default) must end with a slash")
    if name == "COMPRESS_ROOT":
        if value is None:
            raise ImproperlyConfigured("COMPRESS_ROOT defaults to STATIC_ROOT: set either")
        value = os.path.normcase(os.path.abspath(value))
    if name == "COMPRESS_SRI_HASHES" and isinstance(value, str):
        value = (value,)
    return value


class _Settings:
    """``settings.COMPRESS_URL`` and friends, resolved as :func:`setting` resolves them."""

    def __getattr__(self, name):
        return setting(name)


settings = _Settings()


class Runtime:
    """What rendering a block reads, resolved once. ``COMPRESS_URL`` is kept as the project set
    it and turned into a string on each render, as django-compressor does, so a string-like
    object that adds ``SCRIPT_NAME`` keeps working."""

    __slots__ = ("offline", "static_url", "url", "placeholder", "debug_toggle", "nonce_always")

    def __init__(self):
        self.offline = bool(setting("COMPRESS_ENABLED")) and bool(setting("COMPRESS_OFFLINE"))
        self.static_url = str(django_settings.STATIC_URL or "")
        self.url = setting("COMPRESS_URL")
        self.placeholder = setting("COMPRESS_URL_PLACEHOLDER")
        self.debug_toggle = setting("COMPRESS_DEBUG_TOGGLE")
        nonce = setting("STAPLER_CSP_NONCE")
        if nonce not in ("auto", "always"):
            raise ImproperlyConfigured(
                'STAPLER_CSP_NONCE is %r: use "auto" (blocks that mention csp_nonce) or '
                '"always" (every block)' % (nonce,)
            )
        self.nonce_always = nonce == "always"


_runtime = None


def runtime():
    global _runtime
    if _runtime is None:
        _runtime = Runtime()
    return _runtime


_WATCHED = ("COMPRESS_", "STAPLER_", "STATIC_", "DEBUG", "STORAGES")


def _setting_changed(setting, **kwargs):
    global _runtime
    if setting.startswith(_WATCHED):
        _runtime = None
        from . import manifest

        manifest.forget()


setting_changed.connect(_setting_changed, dispatch_uid="stapler_assets.conf")
