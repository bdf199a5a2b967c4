"""stapler vs django-compressor on the realistic site (realistic.py) made a Django project and run
as a team runs it: in the project's folder, its virtualenv active, no stapler.toml, the settings
read through the Django bridge. Both render modes: `auto` (the default) and `native`. Cold: empty
build cache. Warm: cache kept, outputs moved away. Nothing changed: a second run. Prints medians,
the ratios to django-compressor measured in the same run, and how long the bridge took and how much
of that other work overlapped.

    python3 bench/modes.py --stapler target/dist/stapler --venv target/compat-venv \
        --libs target/real-libs --scale 1000 --runs 3 --out bench/RESULTS.md
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import realistic  # noqa: E402
from compress import Aside, report  # noqa: E402
from django_bridge import MANAGE, SETTINGS  # noqa: E402

def make_project(site, libs, scale):
    """The realistic site with a settings module and manage.py instead of a stapler.toml."""
    realistic.generate(site, libs, scale)
    os.remove(os.path.join(site, "stapler.toml"))
    os.makedirs(os.path.join(site, "benchsite"))
    open(os.path.join(site, "benchsite", "__init__.py"), "w").close()
    with open(os.path.join(site, "benchsite", "settings.py"), "w") as handle:
        handle.write(SETTINGS % {"libs": os.path.abspath(libs), "apps": ""})
    with open(os.path.join(site, "manage.py"), "w") as handle:
        handle.write(MANAGE)
    # Sources written seconds before a build are never vouched for by its record (their time
    # may still change within the file system's resolution): date them as a checkout.
    past = time.time() - 3600
    for root, _, names in os.walk(site):
        for name in names:
            os.utime(os.path.join(root, name), (past, past))


def run(command, cwd, env):
    """Wall seconds and what the command printed; a failure ends the bench."""
    os.sync()
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit("failed: %s\n%s\n%s" % (" ".join(command), done.stdout, done.stderr))
    return elapsed, done.stdout + done.stderr


BRIDGE = re.compile(r"the bridge took ([0-9.]+) s")
OVERLAP = re.compile(r"([0-9.]+) s of it beside other work")


def bridge_seconds(output):
    """The bridge's time and its overlap with other work, as the summary states them."""
    found = BRIDGE.search(output)
    if not found:
        return None
    overlap = OVERLAP.search(output)
    return float(found.group(1)), float(overlap.group(1)) if overlap else 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stapler", required=True)
    parser.add_argument("--venv", required=True, help="a virtualenv with Django and django-compressor")
    parser.add_argument("--libs", required=True)
    parser.add_argument("--scale", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", default="target/bench-modes")
    parser.add_argument("--out")
    args = parser.parse_args()
    site = os.path.abspath(os.path.join(args.work, "realistic-%d" % args.scale))
    make_project(site, args.libs, args.scale)
    venv = os.path.abspath(args.venv)
    env = {key: value for key, value in os.environ.items() if key not in ("DJANGO_SETTINGS_MODULE", "CI", "PYTHONPATH")}
    env["VIRTUAL_ENV"] = venv
    env["PATH"] = os.path.join(venv, "bin") + os.pathsep + env.get("PATH", "")
    stapler = os.path.abspath(args.stapler)
    ours = os.path.join(site, "build", "static")
    theirs = os.path.join(site, "django-root")
    cache = os.path.join(site, ".stapler-cache")
    aside = Aside(os.path.abspath(args.work))
    aside.clear()
    kinds = [(mode, kind) for mode in ("auto", "native") for kind in ("cold", "warm", "unchanged")]
    times = {"django": []}
    times.update({key: [] for key in kinds})
    bridge = {key: [] for key in kinds}
    # Native builds read what `stapler init` wrote from the settings, as the README says.
    run([stapler, "init", "--output", "native.toml", "--force"], site, env)
    commands = {
        "auto": [stapler, "compress", "--offline"],
        "native": [stapler, "compress", "--offline", "--config", "native.toml"],
    }
    for number in range(args.runs):
        aside.move(theirs)
        times["django"].append(run([os.path.join(venv, "bin", "python"), "manage.py", "compress", "--force"], site, dict(env, BENCH_STATIC_ROOT=theirs))[0])
        for mode in ("auto", "native"):
            command = commands[mode]
            for kind in ("cold", "warm", "unchanged"):
                if kind == "cold":
                    aside.move(ours, cache)
                elif kind == "warm":
                    aside.move(ours, os.path.join(cache, "runs"))
                elapsed, output = run(command, site, env)
                times[(mode, kind)].append(elapsed)
                measured = bridge_seconds(output)
                if measured:
                    bridge[(mode, kind)].append(measured)
        aside.clear()
        print("run %d: %s" % (number + 1, {("%s %s" % k if isinstance(k, tuple) else k): "%.2fs" % v[-1] for k, v in times.items()}), file=sys.stderr)
    peer = statistics.median(times["django"])
    lines = ["### The realistic site as a Django project, %d templates: render = auto and native\n" % args.scale]
    lines.append("In the project's folder, its virtualenv active, settings through the bridge (`bench/modes.py`).")
    lines.append("django-compressor (`manage.py compress --force`): median %.2f s.\n" % peer)
    lines.append("| run | auto s | auto × | native s | native × | bridge s (auto) | of it beside other work s |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for kind, label in (("cold", "cold (empty cache)"), ("warm", "warm cache, outputs moved away"), ("unchanged", "nothing changed")):
        auto = statistics.median(times[("auto", kind)])
        native = statistics.median(times[("native", kind)])
        spent = bridge[("auto", kind)]
        started = "%.2f" % statistics.median(b for b, _ in spent) if spent else "-"
        overlap = "%.2f" % statistics.median(o for _, o in spent) if spent else "-"
        lines.append("| %s | %.2f | %.1f× | %.2f | %.1f× | %s | %s |" % (label, auto, peer / auto, native, peer / native, started, overlap))
    lines.append("")
    report(lines, args.out)


if __name__ == "__main__":
    main()
