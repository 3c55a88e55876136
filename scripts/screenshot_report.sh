#!/usr/bin/env bash
# Take a screenshot of the HTML report of a failing run, rendered by a real browser.
#
#   scripts/screenshot_report.sh [FAULT] [OUT.png] [WIDTH,HEIGHT]
#
# Defaults: invalid-json, docs/report.png, 1400,2000. docs/report.png, shown in the README, is
# made with: scripts/screenshot_report.sh invalid-json docs/report.png 1400,1240
#
# Runs `pytest --target "reference?fault=FAULT"` in a scratch directory (the bundled reference
# server, breaking one rule on purpose), expects it to fail (exit 1), and renders
# reports/sse-conformance.html in headless Chromium.
#
# Needs the project installed (pytest on PATH) and, on Debian, as root:
#   apt-get update && apt-get install -y chromium fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji
# The fonts draw the control-character symbols (U+2400 block), CJK and emoji the report shows.
# --no-sandbox is needed when Chromium runs as root (as in a container); the other flags keep
# it from reaching the network or its own update services.
set -euo pipefail

fault="${1:-invalid-json}"
out="$(realpath -m "${2:-docs/report.png}")"
size="${3:-1400,2000}"
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
[ -n "$browser" ] || { echo "Chromium not found; see the comment at the top of $0" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

status=0
(cd "$work" && pytest --target "reference?fault=$fault" -q -p no:cacheprovider >pytest.log 2>&1) || status=$?
if [ "$status" != 1 ]; then
    cat "$work/pytest.log" >&2
    echo "expected a failing run (exit 1) for fault '$fault', got exit $status" >&2
    exit 1
fi

mkdir -p "$(dirname "$out")"
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/profile" --window-size="$size" --screenshot="$out" \
    "file://$work/reports/sse-conformance.html" >"$work/chromium.log" 2>&1 \
    || { cat "$work/chromium.log" >&2; exit 1; }
[ -s "$out" ] || { cat "$work/chromium.log" >&2; echo "no screenshot written" >&2; exit 1; }
echo "$out"
