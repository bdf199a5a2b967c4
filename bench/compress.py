"""stapler compress --offline vs django-compressor 4.6 (manage.py compress --force) on generated
sites of several sizes, measured in the same run, alternating, several times. Prints medians of
wall time and peak memory, their ratios, and the gzip size of all outputs.

Two sites: `vendor`, where every page bundles every vendor library (a few MB of distinct
sources, a GB of output), and `realistic` (see realistic.py), where most bytes are per-page code.

Outputs and caches are moved aside between runs, not deleted, so no run pays for the file
system reclaiming the previous run's files; what was moved aside is deleted outside the timing.

    python3 bench/compress.py --stapler target/dist/stapler --python VENV/bin/python \
        --libs target/real-libs --site realistic --scales 20 200 1000 4000 --runs 3 --out bench/RESULTS.md
"""

import argparse
import gzip
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import realistic  # noqa: E402

VENDOR_CSS = [
    "normalize.css-8.0.1/normalize.css",
    "bootstrap-3.4.1/dist/css/bootstrap.css",
    "font-awesome-4.7.0/css/font-awesome.css",
    "jquery-ui-1.13.3/dist/themes/base/jquery-ui.css",
    "select2-4.0.13/dist/css/select2.css",
]
VENDOR_JS = [
    "jquery-3.7.1/dist/jquery.js",
    "jquery-ui-1.13.3/dist/jquery-ui.js",
    "bootstrap-3.4.1/dist/js/bootstrap.js",
    "lodash-4.17.21/lodash.js",
    "select2-4.0.13/dist/js/select2.js",
    "chart.js-4.4.3/dist/chart.umd.js",
    "htmx.org-1.9.12/dist/htmx.js",
]


def generate(site, libs, templates):
    """A site with a base layout and `templates` pages, each with its own CSS and JS."""
    rng = random.Random(templates)
    shutil.rmtree(site, ignore_errors=True)
    static = os.path.join(site, "static")
    os.makedirs(os.path.join(static, "gen", "css"))
    os.makedirs(os.path.join(static, "gen", "js"))
    os.makedirs(os.path.join(static, "gen", "img"))
    os.makedirs(os.path.join(site, "templates", "pages"))
    for i in range(50):
        with open(os.path.join(static, "gen", "img", "i%02d.png" % i), "wb") as handle:
            handle.write(rng.randbytes(rng.randint(200, 4000)))
    for page in range(templates):
        rules = []
        for r in range(40):
            rules.append(
                ".page-%d .block-%d {\n  margin: %dpx %dpx;\n  color: #%06x;\n  background: url(../img/i%02d.png) no-repeat;\n}\n"
                % (page, r, rng.randint(0, 40), rng.randint(0, 40), rng.randint(0, 0xFFFFFF), rng.randint(0, 49))
            )
        with open(os.path.join(static, "gen", "css", "p%04d.css" % page), "w") as handle:
            handle.write("/* styles of page %d */\n" % page + "".join(rules))
        functions = []
        for f in range(25):
            functions.append(
                "function page%dHandler%d(element, options) {\n  var settings = Object.assign({}, options || {});\n"
                "  var total = 0;\n  for (var index = 0; index < %d; index++) {\n    total += index * settings.step || 1;\n  }\n"
                "  element.setAttribute('data-total-%d', String(total));\n  return total;\n}\n" % (page, f, rng.randint(5, 50), f)
            )
        with open(os.path.join(static, "gen", "js", "p%04d.js" % page), "w") as handle:
            handle.write("// behaviour of page %d\n" % page + "".join(functions))
    css_links = "\n".join('<link rel="stylesheet" href="{%% static \'%s\' %%}">' % path for path in VENDOR_CSS)
    js_links = "\n".join('<script src="{%% static \'%s\' %%}"></script>' % path for path in VENDOR_JS)
    with open(os.path.join(site, "templates", "base.html"), "w") as handle:
        handle.write(
            "{% load static compress %}<!DOCTYPE html>\n<html><head>\n{% compress css %}\n" + css_links
            + "\n{% block page_css %}{% endblock %}\n{% endcompress %}\n</head><body>\n{% block content %}{% endblock %}\n"
            "{% compress js %}\n" + js_links + "\n{% block page_js %}{% endblock %}\n{% endcompress %}\n</body></html>\n"
        )
    for page in range(templates):
        with open(os.path.join(site, "templates", "pages", "p%04d.html" % page), "w") as handle:
            handle.write(
                "{%% extends 'base.html' %%}{%% load static %%}\n"
                "{%% block page_css %%}<link rel=\"stylesheet\" href=\"{%% static 'gen/css/p%04d.css' %%}\">{%% endblock %%}\n"
                "{%% block content %%}<h1>Page %d</h1>{%% endblock %%}\n"
                "{%% block page_js %%}<script src=\"{%% static 'gen/js/p%04d.js' %%}\"></script>{%% endblock %%}\n" % (page, page, page)
            )
    with open(os.path.join(site, "stapler.toml"), "w") as handle:
        handle.write('static_root = "build/static"\nstaticfiles_dirs = ["static", "%s"]\ntemplate_dirs = ["templates"]\n' % os.path.abspath(libs))


def measure(command, cwd=None):
    """Wall seconds and peak RSS (MiB) of one command. The file system's dirty pages are
    written out first, so no run pays for writing back the outputs of the one before."""
    os.sync()
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit("failed: %s\n%s" % (" ".join(command), process.stderr.read().decode()))
    return elapsed, usage.ru_maxrss / 1024


def io_floor(site, inputs, build):
    """Seconds to read and sha256 every distinct input once and write every output once: what a
    warm build cannot go below."""
    import hashlib

    os.sync()
    start = time.perf_counter()
    for root, _, names in os.walk(os.path.join(site, "static")):
        for name in names:
            if name.endswith((".css", ".js")):
                hashlib.sha256(open(os.path.join(root, name), "rb").read()).digest()
    for path in inputs:
        hashlib.sha256(open(path, "rb").read()).digest()
    target = build + "-floor"
    shutil.rmtree(target, ignore_errors=True)
    for root, _, names in os.walk(os.path.join(build, "static", "CACHE")):
        out = os.path.join(target, os.path.relpath(root, build))
        os.makedirs(out, exist_ok=True)
        for name in names:
            data = open(os.path.join(root, name), "rb").read()
            with open(os.path.join(out, name), "wb") as handle:
                handle.write(data)
    elapsed = time.perf_counter() - start
    shutil.rmtree(target, ignore_errors=True)
    return elapsed


def output_sizes(cache_dir):
    sizes = {}
    for kind in ("css", "js"):
        raw = gz = 0
        folder = os.path.join(cache_dir, kind)
        for name in os.listdir(folder) if os.path.isdir(folder) else []:
            data = open(os.path.join(folder, name), "rb").read()
            raw += len(data)
            gz += len(gzip.compress(data, 9))
        count = len(os.listdir(folder)) if os.path.isdir(folder) else 0
        sizes[kind] = (count, raw, gz)
    return sizes


class Aside:
    """Moves folders out of the way between runs and deletes them when the timing is over."""

    def __init__(self, work):
        self.folder = os.path.join(work, "aside")
        self.count = 0
        os.makedirs(self.folder, exist_ok=True)

    def move(self, *paths):
        for path in paths:
            if os.path.exists(path):
                self.count += 1
                os.rename(path, os.path.join(self.folder, "%d" % self.count))

    def clear(self):
        shutil.rmtree(self.folder, ignore_errors=True)
        os.makedirs(self.folder, exist_ok=True)


SITES = {
    "vendor": (generate, lambda libs: [os.path.join(libs, path) for path in VENDOR_CSS + VENDOR_JS]),
    "realistic": (realistic.generate, realistic.vendor_inputs),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stapler", required=True)
    parser.add_argument("--python", required=True)
    parser.add_argument("--libs", required=True)
    parser.add_argument("--site", choices=sorted(SITES), default="vendor")
    parser.add_argument("--scales", type=int, nargs="+", default=[20, 200, 1000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", default="target/bench-compress")
    parser.add_argument("--out")
    args = parser.parse_args()
    check = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "compat", "django_check.py")
    generator, vendor_inputs = SITES[args.site]
    lines = []
    growth = []
    aside = Aside(os.path.abspath(args.work))
    for scale in args.scales:
        site = os.path.abspath(os.path.join(args.work, "%s-%d" % (args.site, scale)))
        generator(site, args.libs, scale)
        # Sources written seconds before a build are never vouched for by its record (their
        # time may still change within the file system's resolution): date them as a checkout.
        past = time.time() - 3600
        for root, _, names in os.walk(site):
            for name in names:
                os.utime(os.path.join(root, name), (past, past))
        stapler = [os.path.abspath(args.stapler), "compress", "--offline", "-q", "--config", os.path.join(site, "stapler.toml")]
        build = os.path.join(site, "build")
        cache = os.path.join(site, ".stapler-cache")
        django_root = os.path.join(site, "django-root")
        results = {"django": [], "cold": [], "warm": [], "unchanged": []}
        for run in range(args.runs):
            aside.move(django_root)
            results["django"].append(measure([args.python, check, "compress", site, django_root]))
            aside.move(build, cache)
            results["cold"].append(measure(stapler))
            aside.move(build, os.path.join(cache, "runs"))
            results["warm"].append(measure(stapler))
            results["unchanged"].append(measure(stapler))
            aside.clear()
            print("scale %d run %d: %s" % (scale, run + 1, {k: "%.2fs" % v[-1][0] for k, v in results.items()}), file=sys.stderr)
        med = {k: (statistics.median(t for t, _ in v), max(m for _, m in v)) for k, v in results.items()}
        floor = statistics.median(io_floor(site, vendor_inputs(args.libs), build) for _ in range(args.runs))
        ours = output_sizes(os.path.join(build, "static", "CACHE"))
        theirs = output_sizes(os.path.join(django_root, "CACHE"))
        django_time = med["django"][0]
        lines.append("### %d templates (%d bundles)\n" % (scale, ours["css"][0] + ours["js"][0]))
        lines.append("| run | median s | peak RSS MiB | django-compressor ÷ stapler |")
        lines.append("| --- | --- | --- | --- |")
        lines.append("| django-compressor 4.6 (`compress --force`) | %.2f | %.0f | 1.0× |" % (django_time, med["django"][1]))
        for key, label in (("cold", "stapler, cold (empty cache)"), ("warm", "stapler, warm cache, outputs moved away"), ("unchanged", "stapler, nothing changed")):
            lines.append("| %s | %.2f | %.0f | %.1f× |" % (label, med[key][0], med[key][1], django_time / med[key][0]))
        lines.append("| I/O floor: read + sha256 every input once, write every output once | %.2f | | warm is %.1f× the floor |" % (floor, med["warm"][0] / floor))
        lines.append("")
        lines.append("| output | files | raw bytes | gzip -9 bytes |")
        lines.append("| --- | --- | --- | --- |")
        for kind in ("css", "js"):
            for who, sizes in (("stapler", ours), ("django-compressor", theirs)):
                lines.append("| %s %s | %d | %d | %d |" % (who, kind, *sizes[kind]))
        for kind in ("css", "js"):
            if theirs[kind][2]:
                lines.append("\n%s gzip: stapler is %.1f %% %s than django-compressor." % (
                    kind.upper(), abs(100.0 * (1 - ours[kind][2] / theirs[kind][2])), "smaller" if ours[kind][2] < theirs[kind][2] else "larger"))
        lines.append("")
        growth.append((scale, ours["css"][0] + ours["js"][0], med, floor))
    if len(growth) > 1:
        lines.append("### Growth: milliseconds per template, and ratios to django-compressor\n")
        lines.append("| templates | bundles | django-compressor ms/template | cold ms/template | warm ms/template | cold × | warm × | nothing changed × | warm ÷ I/O floor | peak RSS MiB (cold) |")
        lines.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for scale, bundles, med, floor in growth:
            per = lambda key: 1000.0 * med[key][0] / scale
            ratio = lambda key: med["django"][0] / med[key][0]
            lines.append("| %d | %d | %.2f | %.2f | %.2f | %.1f× | %.1f× | %.0f× | %.2f | %.0f |" % (
                scale, bundles, per("django"), per("cold"), per("warm"), ratio("cold"), ratio("warm"), ratio("unchanged"),
                med["warm"][0] / floor, med["cold"][1]))
        lines.append("")
    report(lines, args.out)


def report(lines, out):
    """Prints a section of the results and appends it to `out`, when given."""
    text = "\n".join(lines)
    print(text)
    if out:
        with open(out, "a") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
