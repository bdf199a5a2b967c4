"""stapler in a Django project (no stapler.toml: the settings come from Django, `render = auto`)
vs django-compressor 4.6 on the same generated site, where a tenth of the pages put the project's
own template tag inside their compress blocks, so Django renders those through the bridge.
Prints medians, the ratio, and the bridge's share of stapler's time.

    python3 bench/django_bridge.py --stapler target/dist/stapler --python VENV/bin/python \
        --libs target/real-libs --scale 200 --runs 3 --out bench/RESULTS.md
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from compress import generate, report  # noqa: E402

SETTINGS = '''import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "bench"
DEBUG = False
INSTALLED_APPS = ["django.contrib.staticfiles", "compressor"%(apps)s]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [BASE_DIR / "templates"],
    "APP_DIRS": True,
}]
STATIC_URL = "/static/"
STATIC_ROOT = os.environ.get("BENCH_STATIC_ROOT", str(BASE_DIR / "build" / "static"))
STATICFILES_DIRS = [BASE_DIR / "static", %(libs)r]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "compressor.finders.CompressorFinder",
]
COMPRESS_ENABLED = True
COMPRESS_OFFLINE = True
'''

TAGS = '''from django import template
from django.templatetags.static import static
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def page_script(path):
    return format_html('<script src="{}"></script>', static(path))
'''

MANAGE = '''import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
from django.core.management import execute_from_command_line

execute_from_command_line(sys.argv)
'''


def make_project(site, libs, scale):
    """The compress bench's site as a Django project; every tenth page uses the project's tag."""
    generate(site, libs, scale)
    os.remove(os.path.join(site, "stapler.toml"))
    for folder in ("benchsite", "benchtags", os.path.join("benchtags", "templatetags")):
        os.makedirs(os.path.join(site, folder), exist_ok=True)
        open(os.path.join(site, folder, "__init__.py"), "w").close()
    with open(os.path.join(site, "benchsite", "settings.py"), "w") as handle:
        handle.write(SETTINGS % {"libs": os.path.abspath(libs), "apps": ', "benchtags"'})
    with open(os.path.join(site, "benchtags", "templatetags", "bench_tags.py"), "w") as handle:
        handle.write(TAGS)
    with open(os.path.join(site, "manage.py"), "w") as handle:
        handle.write(MANAGE)
    custom = 0
    for page in range(0, scale, 10):
        path = os.path.join(site, "templates", "pages", "p%04d.html" % page)
        with open(path) as handle:
            text = handle.read()
        script = "<script src=\"{%% static 'gen/js/p%04d.js' %%}\"></script>" % page
        assert script in text, path
        text = text.replace("{% load static %}", "{% load static bench_tags %}")
        text = text.replace(script, "{%% page_script 'gen/js/p%04d.js' %%}" % page)
        with open(path, "w") as handle:
            handle.write(text)
        custom += 1
    return custom


def run(command, cwd, env):
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit("failed: %s\n%s\n%s" % (" ".join(command), done.stdout, done.stderr))
    return elapsed, done.stdout + done.stderr


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stapler", required=True)
    parser.add_argument("--python", required=True)
    parser.add_argument("--libs", required=True)
    parser.add_argument("--scale", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", default="target/bench-django")
    parser.add_argument("--out")
    args = parser.parse_args()
    site = os.path.abspath(os.path.join(args.work, "site-%d" % args.scale))
    custom = make_project(site, args.libs, args.scale)
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("VIRTUAL_ENV", None)
    env.pop("CI", None)
    python = os.path.abspath(args.python)
    stapler = [os.path.abspath(args.stapler), "compress", "--offline", "--python", python]
    peer = [python, "manage.py", "compress", "--force"]
    ours_root = os.path.join(site, "build", "static")
    theirs_root = os.path.join(site, "django-root")
    cache = os.path.join(site, ".stapler-cache")
    times = {"django": [], "cold": [], "warm": []}
    bridge = {"cold": [], "warm": []}
    by_django = None
    for number in range(args.runs):
        shutil.rmtree(theirs_root, ignore_errors=True)
        times["django"].append(run(peer, site, dict(env, BENCH_STATIC_ROOT=theirs_root))[0])
        for kind in ("cold", "warm"):
            shutil.rmtree(ours_root, ignore_errors=True)
            if kind == "cold":
                shutil.rmtree(cache, ignore_errors=True)
            elapsed, output = run(stapler, site, dict(env, BENCH_STATIC_ROOT=ours_root))
            times[kind].append(elapsed)
            took = re.search(r"the bridge took ([0-9.]+) ?s", output)
            rendered = re.search(r"Django rendered (\d+) template", output)
            if not took or not rendered:
                raise SystemExit("no bridge line in stapler's summary:\n" + output)
            bridge[kind].append(float(took.group(1)))
            by_django = int(rendered.group(1))
        print("run %d: %s" % (number + 1, {k: "%.2fs" % v[-1] for k, v in times.items()}), file=sys.stderr)
    keys = [sorted(json.load(open(os.path.join(root, "CACHE", "manifest.json")))) for root in (ours_root, theirs_root)]
    if keys[0] != keys[1]:
        raise SystemExit("stapler's keys differ from django-compressor's on the bench project")
    med = {k: statistics.median(v) for k, v in times.items()}
    lines = [
        "### %d templates, %d of them with the project's own tag in a compress block (%d rendered by Django; %d keys, the same as django-compressor's)\n"
        % (args.scale, custom, by_django, len(keys[0])),
        "| run | median s | django-compressor ÷ stapler | bridge s (share) |",
        "| --- | --- | --- | --- |",
        "| django-compressor 4.6 (`manage.py compress --force`) | %.2f | 1.0× | |" % med["django"],
    ]
    for kind, label in (("cold", "stapler, `render = auto`, cold"), ("warm", "stapler, `render = auto`, warm cache")):
        share = statistics.median(bridge[kind])
        lines.append(
            "| %s | %.2f | %.1f× | %.2f (%.0f %%) |"
            % (label, med[kind], med["django"] / med[kind], share, 100.0 * share / med[kind])
        )
    lines.append("")
    report(lines, args.out)


if __name__ == "__main__":
    main()
