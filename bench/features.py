"""What the features beyond django-compressor cost on one site: cold builds (empty cache) with
each setting alone, against the same build without it, alternating, several times. Prints
medians of wall time and the bytes each adds to the static root.

    python3 bench/features.py --stapler target/dist/stapler --site target/bench-compress/realistic-1000 --runs 3
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

FEATURES = [
    ("off (django-compressor's outputs)", ""),
    ("source maps (`source_maps = \"linked\"`)", 'source_maps = "linked"\n'),
    ("source maps without sourcesContent", 'source_maps = "linked"\nsource_maps_content = false\n'),
    ("precompress (`[\"gzip\", \"br\"]`)", 'precompress = ["gzip", "br"]\n'),
    ("SRI (`sri_hashes = [\"sha384\"]`)", 'sri_hashes = ["sha384"]\n'),
]


def tree_bytes(root):
    """Bytes of bundles, maps and precompressed files under root."""
    totals = {"bundles": 0, "maps": 0, "precompressed": 0}
    for folder, _, files in os.walk(root):
        for name in files:
            size = os.path.getsize(os.path.join(folder, name))
            if name.endswith((".gz", ".br")):
                totals["precompressed"] += size
            elif name.endswith(".map"):
                totals["maps"] += size
            elif "/CACHE/" in os.path.join(folder, name):
                totals["bundles"] += size
    return totals


def run_once(stapler, site, extra):
    config = os.path.join(site, "stapler.toml")
    with open(config + ".base") as handle:
        base = handle.read()
    with open(config, "w") as handle:
        handle.write(base + extra)
    for folder in (".stapler-cache", "build"):
        shutil.rmtree(os.path.join(site, folder), ignore_errors=True)
    subprocess.run(["sync"], check=False)
    started = time.perf_counter()
    subprocess.run([stapler, "compress", "-q"], cwd=site, check=True)
    elapsed = time.perf_counter() - started
    return elapsed, tree_bytes(os.path.join(site, "build"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stapler", required=True)
    parser.add_argument("--site", required=True)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    stapler = os.path.abspath(args.stapler)
    site = args.site
    config = os.path.join(site, "stapler.toml")
    if not os.path.exists(config + ".base"):
        shutil.copy(config, config + ".base")
    times = {name: [] for name, _ in FEATURES}
    sizes = {}
    for run in range(args.runs):
        for name, extra in FEATURES:
            elapsed, totals = run_once(stapler, site, extra)
            times[name].append(elapsed)
            sizes[name] = totals
        print("run %d done" % (run + 1), file=sys.stderr)
    shutil.copy(config + ".base", config)
    base = statistics.median(times[FEATURES[0][0]])
    print("| setting | cold build (median) | added | bundles | maps | .gz + .br |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, _ in FEATURES:
        median = statistics.median(times[name])
        totals = sizes[name]
        print(
            "| %s | %.2f s | %+.2f s | %.1f MiB | %.1f MiB | %.1f MiB |"
            % (
                name,
                median,
                median - base,
                totals["bundles"] / 2**20,
                totals["maps"] / 2**20,
                totals["precompressed"] / 2**20,
            )
        )


if __name__ == "__main__":
    main()
