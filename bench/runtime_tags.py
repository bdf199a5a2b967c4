"""What rendering a {% compress %} block costs on a server: stapler_assets's tag against
django-compressor's, both in offline mode and from the same manifest (stapler's, of the fixture
project tests/fixtures/django_project), per block and per page. Prints medians and the ratio.

    target/compat-venv/bin/python bench/runtime_tags.py --stapler target/release/stapler

Run it with a Python that has Django, Jinja2 and django-compressor; stapler_assets comes from
python/ when it is not installed. --static-root reuses a built fixture instead of building.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(REPO, "tests", "fixtures", "django_project")
PAGES = [
    "pages/plain.html",
    "pages/custom.html",
    "pages/widgets.html",
    "pages/cached.html",
    "pages/i18n.html",
    "pages/include.html",
    "pages/precompiled.html",
    "shop/product.html",
]
LIBRARIES = {
    "django-compressor": "compressor.templatetags.compress",
    "stapler_assets": "stapler_assets.templatetags.compress",
}
NONCE_BLOCK = (
    "{% load compress %}{% compress js inline %}"
    '<script{% if csp_nonce %} nonce="{{ csp_nonce }}"{% endif %}>go()</script>{% endcompress %}'
)


def build(stapler, project, root):
    env = dict(os.environ, FIXTURE_STATIC_ROOT=root)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run(
        [stapler, "compress", "--offline", "--python", sys.executable, "-q"],
        cwd=project, env=env, check=True,
    )


def median_per_call(work, calls, rounds):
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            work()
        times.append((time.perf_counter() - started) / calls)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stapler", help="the stapler binary that builds the fixture's manifest")
    parser.add_argument("--static-root", help="a fixture static root already built")
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    try:
        project = os.path.join(tmp, "project")
        shutil.copytree(FIXTURE, project, ignore=shutil.ignore_patterns("static_root", "__pycache__"))
        root = args.static_root or os.path.join(tmp, "root")
        if not args.static_root:
            if not args.stapler:
                parser.error("give --stapler (to build the manifest) or --static-root")
            build(os.path.abspath(args.stapler), project, root)
        run(project, root, args.rounds)
    finally:
        shutil.rmtree(tmp)


def run(project, root, rounds):
    os.environ["FIXTURE_STATIC_ROOT"] = root
    os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
    sys.path.insert(0, project)
    try:
        import stapler_assets  # noqa: F401
    except ImportError:
        sys.path.insert(0, os.path.join(REPO, "python"))
    import django

    django.setup()
    import hashlib
    import json

    from django.template import Context, Engine
    from django.template.backends.django import get_installed_libraries

    with open(os.path.join(root, "CACHE", "manifest.json")) as file:
        manifest = json.load(file)
    # The nonce block's key, so both tags find it (django-compressor's only without a nonce).
    manifest[hashlib.sha256(b"<script>go()</script>").hexdigest()] = "<script>go();</script>"
    with open(os.path.join(root, "CACHE", "manifest.json"), "w") as file:
        json.dump(manifest, file)

    with open(os.path.join(project, "templates", "base.html")) as file:
        base = file.read()
    block = "{% load static compress %}" + base[base.index("{% compress css %}"):base.index("{% endcompress %}") + 17]
    context = {"STATIC_URL": "/static/", "theme": "light"}
    engines = {
        name: Engine(
            dirs=[os.path.join(project, "templates")],
            app_dirs=True,
            libraries=dict(get_installed_libraries(), compress=library),
        )
        for name, library in LIBRARIES.items()
    }
    results = {}
    for name, engine in engines.items():
        one = engine.from_string(block)
        nonce = engine.from_string(NONCE_BLOCK)
        pages = [engine.get_template(page) for page in PAGES]
        for page in pages:  # warm: loaders, the manifest, the cache tag's cache
            page.render(Context(context))
        expected = one.render(Context(context))
        assert "CACHE/css/" in expected, expected
        results[name] = {
            "one block": lambda one=one: one.render(Context(context)),
            "nonce block": lambda nonce=nonce: nonce.render(Context(context)),
            "8 pages": lambda pages=pages: [page.render(Context(context)) for page in pages],
        }
    print("time per render, median (and best) of %d rounds alternating the tags (Django %s, Python %s)" % (
        rounds, django.get_version(), sys.version.split()[0]))
    print("%-12s %24s %24s %14s" % ("", "django-compressor", "stapler_assets", "ratio"))
    for case, calls in (("one block", 500), ("nonce block", 500), ("8 pages", 40)):
        samples = {name: [] for name in results}
        for _ in range(rounds):
            for name in results:
                samples[name].append(median_per_call(results[name][case], calls, 1))
        cells = []
        for name in results:
            cells.append("%9.1f µs (%7.1f µs)" % (
                statistics.median(samples[name]) * 1e6, min(samples[name]) * 1e6))
        ratio = statistics.median(samples["stapler_assets"]) / statistics.median(samples["django-compressor"])
        best = min(samples["stapler_assets"]) / min(samples["django-compressor"])
        print("%-12s %24s %24s %6.2fx (%.2fx)" % (case, cells[0], cells[1], ratio, best))
    print("ratio: stapler_assets's time over django-compressor's (below 1: stapler_assets is faster)")


if __name__ == "__main__":
    main()
