"""Runs the real django-compressor against a stapler site, for the compatibility tests.

    django_check.py compress SITE STATIC_ROOT   print django-compressor's manifest keys (JSON)
    django_check.py render SITE STATIC_ROOT     render every template offline from the manifest
                                                in STATIC_ROOT and check every URL resolves

SITE is a folder with stapler.toml, templates/ and static/ laid out as testdata/ is.
"""

import json
import os
import re
import sys
import tomllib


def configure(site, static_root, offline):
    import django
    from django.conf import settings

    with open(os.path.join(site, "stapler.toml"), "rb") as handle:
        config = tomllib.load(handle)
    static_url = config.get("static_url", "/static/")
    contexts = config.get("offline_context", [{}])
    if isinstance(contexts, dict):
        contexts = [contexts]
    contexts = [dict({"STATIC_URL": static_url}, **context) for context in contexts]
    settings.configure(
        DEBUG=False,
        SECRET_KEY="compatibility-test",
        INSTALLED_APPS=["django.contrib.staticfiles", "compressor"],
        STATIC_URL=static_url,
        STATIC_ROOT=static_root,
        STATICFILES_DIRS=[os.path.join(site, d) for d in config.get("staticfiles_dirs", [])],
        STATICFILES_FINDERS=[
            "django.contrib.staticfiles.finders.FileSystemFinder",
            "compressor.finders.CompressorFinder",
        ],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [os.path.join(site, d) for d in config.get("template_dirs", [])],
                "APP_DIRS": True,
            }
        ],
        COMPRESS_ENABLED=config.get("enabled", True),
        COMPRESS_OFFLINE=offline,
        COMPRESS_OFFLINE_CONTEXT=contexts,
    )
    django.setup()
    return config, contexts


def compress(site, static_root):
    from django.core.management import call_command

    configure(site, static_root, offline=True)
    call_command("compress", force=True, verbosity=0)
    with open(os.path.join(static_root, "CACHE", "manifest.json")) as handle:
        manifest = json.load(handle)
    print(json.dumps(sorted(manifest)))


def resolves(url, static_url, roots):
    if not url.startswith(static_url):
        return url.startswith(("data:", "http:", "https:", "#"))
    relative = url[len(static_url):].split("?")[0].split("#")[0]
    return any(os.path.isfile(os.path.join(root, relative)) for root in roots)


def render(site, static_root):
    from django.template.loader import get_template

    config, contexts = configure(site, static_root, offline=True)
    static_url = contexts[0]["STATIC_URL"]
    roots = [static_root] + [os.path.join(site, d) for d in config.get("staticfiles_dirs", [])]
    template_dir = os.path.join(site, config["template_dirs"][0])
    names = sorted(
        os.path.relpath(os.path.join(folder, name), template_dir)
        for folder, _, files in os.walk(template_dir)
        for name in files
        if name.endswith(".html")
    )
    rendered, urls, missing = 0, 0, []
    for name in names:
        for context in contexts:
            html = get_template(name).render(dict(context))
            rendered += 1
            for url in re.findall(r'(?:href|src)="([^"]+)"', html):
                urls += 1
                if not resolves(url, static_url, roots):
                    missing.append("%s: %s" % (name, url))
    css_dir = os.path.join(static_root, "CACHE", "css")
    for name in sorted(os.listdir(css_dir)):
        with open(os.path.join(css_dir, name), encoding="utf-8") as handle:
            for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", handle.read()):
                urls += 1
                if not resolves(url, static_url, roots):
                    missing.append("CACHE/css/%s: %s" % (name, url))
    print(json.dumps({"rendered": rendered, "urls": urls, "missing": missing}))
    return 1 if missing else 0


if __name__ == "__main__":
    command, site, static_root = sys.argv[1:4]
    sys.exit(compress(site, static_root) if command == "compress" else render(site, static_root))
