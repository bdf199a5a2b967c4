"""What django-compressor's own parser makes of block bodies, for the parts tests.

    split_parts.py < request.json

The request: {"static_root": ..., "static_url": ..., "staticfiles_dirs": [...],
"parser": "compressor.parser.HtmlParser" (optional), "enabled": true, "blocks":
[{"key": ..., "kind": "css" | "js", "body": ...}]}. The answer, on stdout: for each block,
{"key", "parts": [{"source": "file", "path": real path} | {"source": "inline", "sha256": ...},
each with "attrs"], or "error": what django-compressor raised}.
"""

import hashlib
import json
import os
import sys


def configure(request):
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="parts-test",
        INSTALLED_APPS=["django.contrib.staticfiles", "compressor"],
        STATIC_URL=request["static_url"],
        STATIC_ROOT=request["static_root"],
        STATICFILES_DIRS=request.get("staticfiles_dirs", []),
        STATICFILES_FINDERS=[
            "django.contrib.staticfiles.finders.FileSystemFinder",
            "compressor.finders.CompressorFinder",
        ],
        COMPRESS_ENABLED=request.get("enabled", True),
        COMPRESS_OFFLINE=True,
        COMPRESS_PARSER=request.get("parser", "compressor.parser.AutoSelectParser"),
    )
    django.setup()


def split(kind, body):
    from compressor.css import CssCompressor
    from compressor.js import JsCompressor

    compressor = (CssCompressor if kind == "css" else JsCompressor)(kind, content=body)
    parts = []
    for source, value, _basename, elem in compressor.split_contents():
        attrs = dict(compressor.parser.elem_attribs(elem))
        if source == "file":
            parts.append({"source": "file", "path": os.path.realpath(value), "attrs": attrs})
        else:
            digest = hashlib.sha256(value.encode("utf-8")).hexdigest()
            parts.append({"source": "inline", "sha256": digest, "attrs": attrs})
    return parts


def main():
    request = json.load(sys.stdin)
    configure(request)
    answers = []
    for block in request["blocks"]:
        try:
            answers.append({"key": block["key"], "parts": split(block["kind"], block["body"])})
        except Exception as error:  # what the peer would stop on
            answers.append({"key": block["key"], "error": "%s: %s" % (type(error).__name__, error)})
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
