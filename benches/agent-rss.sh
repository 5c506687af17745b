#!/usr/bin/env bash
# Resident memory of the running agent with and without its models (issue 7's "models add under
# 8 MiB"), measured on the release binary as it ships, not on a test harness.
#   benches/agent-rss.sh [seconds]     (default 20: time each agent runs before it is measured)
# Each run: `hashward-agent run` on a copied sysfs fixture (no miner, no broker: records stay in
# the spool), 250 ms telemetry, the repository's models/ as the bundled models; after `seconds`
# VmRSS / RssAnon / RssFile are read from /proc/PID/status. Inference off, on, off, on: the
# median of the two of each is reported, with the difference.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -q -p hashward-agent
bin="$target/release/hashward-agent"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r agent/tests/data/hw/ryzen-desktop "$work/hw"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

measure() { # $1 = true|false (inference)
    local dir="$work/run-$RANDOM"
    mkdir -p "$dir"
    cat >"$dir/agent.toml" <<TOML
site = "bench"
rig = "rss"
data_dir = "$dir/data"
[broker]
url = "mqtt://127.0.0.1:$port"
[telemetry]
interval_ms = 250
[miner]
hardware_root = "$work/hw"
[inference]
enabled = $1
bundled_models_dir = "$PWD/models"
TOML
    RUST_LOG=warn "$bin" run --config "$dir/agent.toml" >"$dir/log" 2>&1 &
    local pid=$!
    sleep "$secs"
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "agent exited early; its log:" >&2
        cat "$dir/log" >&2
        exit 1
    fi
    local line
    line=$(awk '/^(VmRSS|RssAnon|RssFile):/ {printf "%s ", $2}' "/proc/$pid/status")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    echo "$line"
}

declare -a off on
for i in 1 2; do
    # measure runs in a subshell, where set -e does not stop the script: check each result.
    r=$(measure false) || exit 1
    off+=("$r")
    r=$(measure true) || exit 1
    on+=("$r")
done
python3 - "${off[@]}" "--" "${on[@]}" <<'PY'
import sys, statistics
args = sys.argv[1:]
cut = args.index("--")
def parse(xs):
    rows = [list(map(int, x.split())) for x in xs]
    return [statistics.median(col) / 1024 for col in zip(*rows)]
off, on = parse(args[:cut]), parse(args[cut + 1:])
print("| agent | VmRSS | anonymous | file-backed |")
print("|---|---|---|---|")
print("| inference off | %.2f MiB | %.2f MiB | %.2f MiB |" % tuple(off))
print("| inference on (3 models) | %.2f MiB | %.2f MiB | %.2f MiB |" % tuple(on))
print("| models add | %+.2f MiB | %+.2f MiB | %+.2f MiB |" % tuple(b - a for a, b in zip(off, on)))
PY
