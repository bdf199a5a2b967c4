"""Runs inside a project's virtualenv, with its compat settings, on behalf of compat/run.py.

    python peer_helper.py info OUT.json
        the settings the harness needs (static root, urls, compressor's output folder, ...)
    python peer_helper.py split IN.json OUT.json
        IN maps key -> {"kind": "css"|"js", "body": str}; for each, the parts
        django-compressor's own parser (Compressor.split_contents) makes of the body
"""
import hashlib
import json
import os
import sys


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def setup():
    import django

    django.setup()


def info(out_path):
    setup()
    import django
    import compressor
    from django.conf import settings
    from compressor.conf import settings as csettings

    try:
        version = compressor.__version__
    except AttributeError:
        version = "?"
    try:
        from importlib.metadata import version as dist_version

        version = dist_version("django-compressor")
    except Exception:
        pass
    data = {
        "django": django.get_version(),
        "compressor": version,
        "static_root": str(settings.STATIC_ROOT),
        "static_url": str(settings.STATIC_URL),
        "compress_root": str(csettings.COMPRESS_ROOT),
        "compress_url": str(csettings.COMPRESS_URL),
        "output_dir": str(csettings.COMPRESS_OUTPUT_DIR),
        "manifest": str(csettings.COMPRESS_OFFLINE_MANIFEST),
        "parser": str(csettings.COMPRESS_PARSER),
        "precompilers": [list(p) for p in csettings.COMPRESS_PRECOMPILERS],
        "storage": str(getattr(settings, "STORAGES", {}).get("staticfiles", {}).get("BACKEND", getattr(settings, "STATICFILES_STORAGE", ""))),
    }
    # where the offline manifest goes: COMPRESS_ROOT/COMPRESS_OUTPUT_DIR by default, the root
    # of another storage with COMPRESS_OFFLINE_MANIFEST_STORAGE_ALIAS
    try:
        from compressor.storage import default_offline_manifest_storage

        path = default_offline_manifest_storage.path(csettings.COMPRESS_OFFLINE_MANIFEST)
        root = os.environ.get("COMPAT_STATIC_ROOT") or str(settings.STATIC_ROOT)
        data["manifest_rel"] = os.path.relpath(path, root)
    except Exception as exc:
        data["manifest_rel"] = None
        data["manifest_error"] = str(exc)
    with open(out_path, "w") as f:
        json.dump(data, f, indent=1)


def split(in_path, out_path):
    setup()
    from compressor.base import SOURCE_FILE
    from compressor.css import CssCompressor
    from compressor.js import JsCompressor
    from django.conf import settings

    roots = [str(settings.STATIC_ROOT)]

    def make(cls, kind, body):
        try:
            return cls(content=body, context={})
        except TypeError:
            return cls(kind, content=body, context={})

    with open(in_path) as f:
        blocks = json.load(f)
    result = {}
    for key, block in blocks.items():
        cls = CssCompressor if block["kind"] == "css" else JsCompressor
        try:
            comp = make(cls, block["kind"], block["body"])
            parts = []
            for kind, value, basename, elem in comp.split_contents():
                raw_attrs = comp.parser.elem_attribs(elem)
                attrs = {str(k).lower(): (None if v is None else str(v)) for k, v in dict(raw_attrs).items()}
                if kind == SOURCE_FILE:
                    with open(value, "rb") as fh:
                        data = fh.read()
                    parts.append(
                        {
                            "source": "file",
                            "path": os.path.realpath(value),
                            "url_path": basename,
                            "under_static_root": any(os.path.realpath(value).startswith(os.path.realpath(r) + os.sep) for r in roots),
                            "sha256": sha256_bytes(data),
                            "attrs": attrs,
                        }
                    )
                else:
                    text = value if isinstance(value, str) else value.decode("utf-8")
                    parts.append({"source": "inline", "sha256": sha256_bytes(text.encode("utf-8")), "attrs": attrs})
            result[key] = {"ok": True, "parts": parts}
        except Exception as exc:  # the peer could not read this block: say why
            result[key] = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "info":
        info(sys.argv[2])
    elif cmd == "split":
        split(sys.argv[2], sys.argv[3])
    else:
        sys.exit("unknown command %r" % cmd)
