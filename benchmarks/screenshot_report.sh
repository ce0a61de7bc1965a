#!/usr/bin/env bash
# Render an mlmicro report.html in headless Chromium and save a full-page screenshot.
#
#   benchmarks/screenshot_report.sh [REPORT_HTML] [OUT_PNG] [HEIGHT]
#
# With no REPORT_HTML, trains a model on the embedded cohort in a temporary
# folder and explains it (--aggregate genus, two waterfalls) first. Needs
# Debian's `chromium` (apt-get install -y chromium). Nothing is fetched from
# the network: the report is one self-contained file.
set -euo pipefail

report="${1:-}"
out="${2:-/tmp/mlmicro_report.png}"
height="${3:-9000}"

if [[ -z "$report" ]]; then
    work="$(mktemp -d)"
    (
        cd "$work"
        mlmicro train --no-progress --config fast >/dev/null
        mlmicro explain models/model.joblib --aggregate genus --samples S0001,S0002 \
            --output-dir report >/dev/null
    )
    report="$work/report/report.html"
fi

browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [[ -z "$browser" ]]; then
    echo "chromium not found; install it with: apt-get install -y chromium" >&2
    exit 2
fi

profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" --screenshot="$out" \
    --window-size="1400,$height" "file://$(realpath "$report")" 2>/dev/null
echo "$out"
