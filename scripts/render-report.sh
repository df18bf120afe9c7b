#!/usr/bin/env bash
# Renders a run's report.html in headless Chromium and saves a screenshot, to look at the page
# as a browser shows it. Not part of CI (CI must not depend on a browser).
#
#   scripts/render-report.sh RUN_DIR [SCREENSHOT.png] [WIDTH,HEIGHT]
#
# Needs Debian's chromium (as root: apt-get update && apt-get install -y chromium).
set -euo pipefail
if [[ $# -lt 1 ]]; then
    echo "usage: $0 RUN_DIR [SCREENSHOT.png] [WIDTH,HEIGHT]" >&2
    exit 2
fi
run_dir=$(cd "$1" && pwd)
page="$run_dir/report.html"
shot=${2:-$run_dir/report-screenshot.png}
size=${3:-1280,2000}
if [[ ! -f "$page" ]]; then
    echo "error: $page: not found (run 'mole report $1' first)" >&2
    exit 2
fi
browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$browser" ]]; then
    echo "error: chromium not found (apt-get install -y chromium)" >&2
    exit 2
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# The background-networking flags keep Chromium from reaching out: the page needs no network.
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars --window-size="$size" \
    --screenshot="$shot" "file://$page" 2>/dev/null
[[ -s "$shot" ]] || { echo "error: no screenshot written to $shot" >&2; exit 1; }
echo "$shot"
