#!/usr/bin/env bash
# First render of the web dashboard (BENCHMARKS.md, "Web dashboard"): starts the all-in-one
# (hub + one local agent, embedded broker, loopback) in a temporary directory, waits until the
# rig reports, and times the pages in headless Chromium against a reference load in the same run.
# Needs: chromium (Debian package), node >= 20. Usage: benches/web-first-render.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
# HASHWARD_BIN: an already built all-in-one binary (else the release build is made).
bin="${HASHWARD_BIN:-}"
if [ -z "$bin" ]; then
    cargo build -q --release -p hashward
    bin="$CARGO_TARGET_DIR/release/hashward"
fi
tmp=$(mktemp -d)
http=$((18000 + RANDOM % 1000)); mqtt=$((19000 + RANDOM % 1000))
"$bin" --data-dir "$tmp" --http "127.0.0.1:$http" \
    --mqtt-listen "127.0.0.1:$mqtt" --interval-ms 1000 >"$tmp/run.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 60); do
    curl -sf "http://127.0.0.1:$http/fleet/overview" | grep -q '"rigs_online":1' && break
    sleep 1
done
chromium=$(command -v /usr/lib/chromium/chromium || command -v chromium)
node --experimental-websocket benches/web-first-render.mjs "http://127.0.0.1:$http" "$chromium" "${1:-7}"
