#!/usr/bin/env bash
# Load run of hubs on a three-node NATS JetStream cluster (docs/cluster.md):
#   benches/fleet-sim-nats.sh --hubs H --rigs N --interval-ms I --seconds S [--json]
# Starts three nats-server nodes (JetStream, MQTT listeners) and H hubs (each its own redb; the
# stream's consumer is shared, so each record goes to one hub and what they stored adds up) on
# free loopback ports, runs the fleet simulator with rigs spread over the three MQTT listeners,
# stops everything and prints the simulator's JSON report as the last line. Needs nats-server
# (Debian package). Binaries: the release build, or HUB_BIN / SIM_BIN.
set -euo pipefail
cd "$(dirname "$0")/.."

hubs=1
sim_args=()
json=0
while [ $# -gt 0 ]; do
    case "$1" in
        --hubs) hubs="$2"; shift 2 ;;
        --json) json=1; shift ;;
        --rigs|--interval-ms|--seconds|--ramp-s|--sites|--drain-s) sim_args+=("$1" "$2"); shift 2 ;;
        *) echo "fleet-sim-nats.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
say() { if [ "$json" = 1 ]; then echo "$@" >&2; else echo "$@"; fi; }

NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$NATS" ] || { echo "fleet-sim-nats.sh: nats-server not installed (apt-get install nats-server)" >&2; exit 2; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/hashward-bench-target}"
if [ -z "${HUB_BIN:-}" ] || [ -z "${SIM_BIN:-}" ]; then
    say "== building the release hub and simulator"
    cargo build --release -q -p hashward-hub -p hashward-fleet-sim >&2
fi
hub_bin="${HUB_BIN:-$CARGO_TARGET_DIR/release/hashward-hub}"
sim_bin="${SIM_BIN:-$CARGO_TARGET_DIR/release/fleet-sim}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

declare -a client mqtt route mon
for i in 1 2 3; do
    client[$i]=$(free_port); mqtt[$i]=$(free_port); route[$i]=$(free_port); mon[$i]=$(free_port)
done
routes="nats-route://127.0.0.1:${route[1]}, nats-route://127.0.0.1:${route[2]}, nats-route://127.0.0.1:${route[3]}"
for i in 1 2 3; do
    mkdir -p "$work/nats-$i"
    cat > "$work/nats-$i/nats.conf" <<CONF
server_name: nats-$i
listen: 127.0.0.1:${client[$i]}
http: 127.0.0.1:${mon[$i]}
jetstream { store_dir: "$work/nats-$i/js" }
cluster { name: bench, listen: 127.0.0.1:${route[$i]}, routes: [ $routes ] }
mqtt { listen: 127.0.0.1:${mqtt[$i]}, max_ack_pending: 1000 }
CONF
    "$NATS" -c "$work/nats-$i/nats.conf" >"$work/nats-$i/log" 2>&1 &
    pids+=($!)
done
for i in 1 2 3; do
    for _ in $(seq 1 150); do
        curl -sf "http://127.0.0.1:${mon[$i]}/healthz" >/dev/null 2>&1 && break
        sleep 0.2
    done
done
urls="nats://127.0.0.1:${client[1]},nats://127.0.0.1:${client[2]},nats://127.0.0.1:${client[3]}"

hub_https=()
first_pid=""
for h in $(seq 1 "$hubs"); do
    port=$(free_port)
    node=$(( (h - 1) % 3 + 1 ))
    mkdir -p "$work/hub-$h"
    cat > "$work/hub-$h/hub.toml" <<CONF
broker = "$urls"
client_id = "bench-hub-$h"
[nats]
mqtt = "mqtt://127.0.0.1:${mqtt[$node]}"
replicas = 3
CONF
    RUST_LOG="${HUB_LOG:-warn}" "$hub_bin" serve --config "$work/hub-$h/hub.toml" --http "127.0.0.1:$port" \
        --data-dir "$work/hub-$h/data" >"$work/hub-$h/log" 2>&1 &
    pids+=($!)
    [ -z "$first_pid" ] && first_pid=$!
    hub_https+=("127.0.0.1:$port")
    for _ in $(seq 1 150); do
        if python3 - "$port" <<'PY' 2>/dev/null; then break; fi
import json, sys, urllib.request
h = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1))
sys.exit(0 if h.get("ingest_subscribed") else 1)
PY
        sleep 0.2
    done
done
extra=()
for i in 2 3; do extra+=(--extra-broker "127.0.0.1:${mqtt[$i]}"); done
for h in "${hub_https[@]:1}"; do extra+=(--extra-hub-http "$h"); done
say "== $hubs hub(s) ${hub_https[*]} on NATS $urls; simulating ${sim_args[*]}"
set +e
"$sim_bin" --broker "127.0.0.1:${mqtt[1]}" --hub-http "${hub_https[0]}" --hub-pid "$first_pid" \
    "${extra[@]}" "${sim_args[@]}" >"$work/report.json"
status=$?
set -e
if [ "$status" != 0 ]; then
    echo "fleet-sim-nats.sh: simulator failed ($status); hub log tail:" >&2
    tail -20 "$work/hub-1/log" >&2
fi
tail -1 "$work/report.json"
exit "$status"
