#!/usr/bin/env bash
# Makes docs/report.png, the report screenshot the README shows: builds the example site
# (testdata/) in a temporary folder with --report, and has headless Chromium photograph the page.
#   bash docs/report-screenshot.sh [STAPLER_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
stapler="${1:-}"
if [ -z "$stapler" ]; then
  cargo build --quiet
  stapler="$PWD/target/debug/stapler"
fi
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "needs Chromium (Debian: apt-get install chromium)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r testdata "$work/site"
rm -rf "$work/site/build" "$work/site/.stapler-cache"
(cd "$work/site" && "$stapler" compress --quiet --report report.html)
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
  --user-data-dir="$work/profile" --window-size=1280,1100 \
  --screenshot="$PWD/docs/report.png" "file://$work/site/report.html" 2>/dev/null
echo "wrote docs/report.png"
