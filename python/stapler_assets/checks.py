"""System checks (``manage.py check``, run by ``runserver`` and ``migrate``) for the runtime
side: which ``compress`` tag library templates get, and settings it cannot honour."""

import importlib.util
import urllib.parse

from django.conf import settings as django_settings
from django.core.checks import Error, Warning

from .conf import setting

STAPLER_LIBRARY = "stapler_assets.templatetags.compress"
COMPRESSOR_LIBRARY = "compressor.templatetags.compress"


def compress_library():
    """The module ``{% load compress %}`` loads: with several apps defining a ``compress``
    library, Django takes the one of the app listed last in ``INSTALLED_APPS``."""
    from django.template.backends.django import get_installed_libraries

    return get_installed_libraries().get("compress")


def check_runtime(app_configs=None, **kwargs):
    findings = []
    apps = list(django_settings.INSTALLED_APPS)
    library = compress_library()
    both = "compressor" in apps and "stapler_assets" in apps
    if both:
        winner = "stapler_assets" if library == STAPLER_LIBRARY else "compressor"
        findings.append(
            Warning(
                'INSTALLED_APPS has both "compressor" and "stapler_assets": {%% load compress %%} '
                "loads %s's tag (%s), because Django takes the library of the app listed last."
                % (winner, library),
                hint='Remove "compressor" from INSTALLED_APPS to render blocks with stapler_assets, '
                'or remove "stapler_assets" to keep django-compressor\'s tag ('
                "`python -m stapler_assets` runs stapler without the app).",
                id="stapler_assets.W001",
            )
        )
    if library == STAPLER_LIBRARY and setting("COMPRESS_ENABLED") and not setting("COMPRESS_OFFLINE"):
        findings.append(
            Warning(
                "COMPRESS_ENABLED is on and COMPRESS_OFFLINE is off: stapler_assets never "
                "compresses on a request, so its {% compress %} blocks render uncompressed.",
                hint="Set COMPRESS_OFFLINE = True and build the manifest with "
                "`stapler compress --offline`.",
                id="stapler_assets.W002",
            )
        )
    if importlib.util.find_spec("compressor") is None:
        finders = [
            finder
            for finder in getattr(django_settings, "STATICFILES_FINDERS", ())
            if str(finder).startswith("compressor.")
        ]
        for finder in finders:
            findings.append(
                Error(
                    "STATICFILES_FINDERS lists %s, but django-compressor is not installed." % finder,
                    hint="Remove it: stapler writes the bundles into COMPRESS_ROOT, which is "
                    "served as it is.",
                    id="stapler_assets.E002",
                )
            )
    url = setting("STAPLER_MANIFEST_URL")
    if url:
        scheme = urllib.parse.urlsplit(str(url)).scheme
        if scheme not in ("s3", "https", "http"):
            findings.append(
                Error(
                    "STAPLER_MANIFEST_URL is %r: name the manifest as s3://bucket/key or an "
                    "https:// URL." % url,
                    id="stapler_assets.E001",
                )
            )
        elif scheme == "s3" and importlib.util.find_spec("boto3") is None:
            from .manifest import boto3_missing_message

            findings.append(Error(boto3_missing_message(url), id="stapler_assets.E003"))
    return findings
