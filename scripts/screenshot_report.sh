#!/usr/bin/env bash
# Take a screenshot of the HTML report of a failing run, rendered by a real browser.
#
#   scripts/screenshot_report.sh [--no-js] [FAULT] [OUT.png] [WIDTH,HEIGHT]
#
# Defaults: invalid-json, docs/report.png, 1400,2000. FAULT may name several, comma-separated.
# The screenshots in docs/ are made with:
#   scripts/screenshot_report.sh invalid-json,no-cache-control docs/report.png 1400,1500
#   scripts/screenshot_report.sh --no-js invalid-json,no-cache-control docs/report-no-js.png 1400,1500
#
# Runs `pytest --target "reference?fault=FAULT"` in a scratch directory (the bundled reference
# server, breaking rules on purpose), expects it to fail (exit 1), and renders
# reports/sse-conformance.html in headless Chromium. With --no-js, JavaScript is blocked (the
# browser profile's content setting, as a user who turns it off has it), and the script checks
# that no script ran: the page's environment table, which pytest-html's script fills, is empty.
#
# Needs the project installed (pytest on PATH) and, on Debian, as root:
#   apt-get update && apt-get install -y chromium fonts-liberation fonts-dejavu-core \
#       fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji
# The fonts: Liberation Sans and Mono stand in for the Helvetica and Courier New the page asks
# for; DejaVu Sans draws the angle brackets of ⟨BOM⟩ and ⟨ff⟩; Noto Sans Symbols 2 (in
# fonts-noto-core) the control-character symbols (␍ ␊ ␀, U+2400 block); Noto CJK and Noto Color
# Emoji the Japanese and the emoji of the reference server's answer. Without them Chromium draws
# empty boxes where those characters are.
# --no-sandbox is needed when Chromium runs as root (as in a container); the other flags keep
# it from reaching the network or its own update services.
set -euo pipefail

javascript=on
if [ "${1:-}" = --no-js ]; then
    javascript=off
    shift
fi
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

mkdir -p "$work/profile/Default"
if [ "$javascript" = off ]; then
    # Chromium's per-profile content setting: 2 blocks JavaScript on every page.
    echo '{"profile": {"default_content_setting_values": {"javascript": 2}}}' >"$work/profile/Default/Preferences"
fi
page="file://$work/reports/sse-conformance.html"
chromium() {
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$work/profile" "$@" "$page" 2>"$work/chromium.log" \
        || { cat "$work/chromium.log" >&2; exit 1; }
}

mkdir -p "$(dirname "$out")"
chromium --window-size="$size" --screenshot="$out" >/dev/null
[ -s "$out" ] || { cat "$work/chromium.log" >&2; echo "no screenshot written" >&2; exit 1; }
if [ "$javascript" = off ]; then
    chromium --dump-dom >"$work/dom.html"
    grep -q '<table id="environment"></table>' "$work/dom.html" || {
        echo "JavaScript ran in the page although it was blocked: $out is not the page without it" >&2
        exit 1
    }
fi
echo "$out"
