#!/usr/bin/env bash
# Load run of one hub under a simulated fleet (issue: hub under a real fleet's load):
#   benches/fleet-sim.sh --rigs N --interval-ms I --seconds S [--ramp-s R]
#       [--churn-pct-per-min C] [--hub-args "ARGS"] [--postgres] [--json]
# --ramp-s defaults to rigs/2000 (at least 10). At 100,000 rigs run it as root (open-file limit
# above the rig count; see BENCHMARKS.md for the exact commands and sysctls).
# Builds the release hub and the simulator, starts its own mosquitto and hub on free loopback
# ports (data in a temporary dir), runs the simulator, stops both and prints the simulator's JSON
# report as the last line (with --json, nothing else on stdout). Needs mosquitto (Debian package).
# --postgres: the hub keeps its fleet store in a PostgreSQL started here (Debian `postgresql`
# binaries, a throwaway cluster in the temporary dir, run as `postgres` when we are root).
set -euo pipefail
cd "$(dirname "$0")/.."

sim_args=()
hub_args=""
json=0
rigs=0
ramp=""
postgres=0
while [ $# -gt 0 ]; do
    case "$1" in
        --hub-args) hub_args="$2"; shift 2 ;;
        --json) json=1; shift ;;
        --postgres) postgres=1; shift ;;
        --rigs) rigs="$2"; sim_args+=("$1" "$2"); shift 2 ;;
        --ramp-s) ramp="$2"; shift 2 ;;
        --interval-ms|--seconds|--churn-pct-per-min|--sites|--drain-s)
            sim_args+=("$1" "$2"); shift 2 ;;
        *) echo "fleet-sim.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
# Connections open at most ~2,000 per second unless --ramp-s says otherwise: a faster ramp
# overflows the broker's listen backlog (SYNs dropped, connects retried after seconds).
[ -z "$ramp" ] && ramp=$(( rigs / 2000 > 10 ? rigs / 2000 : 10 ))
sim_args+=(--ramp-s "$ramp")
say() { if [ "$json" = 1 ]; then echo "$@" >&2; else echo "$@"; fi; }

MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$MOSQUITTO" ] || { echo "fleet-sim.sh: mosquitto not installed (apt-get install mosquitto)" >&2; exit 2; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/hashward-bench-target}"
say "== building the release hub and simulator"
cargo build --release -q -p hashward-hub -p hashward-fleet-sim >&2
bin="$CARGO_TARGET_DIR/release"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
mport=$(free_port); hport=$(free_port)
# 100,000 connections: one descriptor each, in mosquitto and in the simulator (both inherit
# this shell's limit). Raise the soft limit to the hard one; fail now, not after an hour of
# refused connects, when that is not enough.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
need=$(( rigs + 4096 ))
have=$(ulimit -n)
if [ "$have" != unlimited ] && [ "$have" -lt "$need" ]; then
    echo "fleet-sim.sh: open-file limit $have < $need for $rigs rigs; as root: ulimit -n $need (and sysctl fs.nr_open >= $need), or lower --rigs" >&2
    exit 2
fi
for knob in net.core.somaxconn net.ipv4.tcp_max_syn_backlog; do
    v=$(sysctl -n "$knob" 2>/dev/null || echo 0)
    if [ "$v" -lt 4096 ] && [ "$rigs" -ge 10000 ]; then
        say "   note: $knob=$v; connects may be retried during the ramp (sysctl -w $knob=65535)"
    fi
done
# max_inflight_messages: the hub acknowledges a batch after its store commit; mosquitto's default
# of 20 unacknowledged messages per client would cap every batch (and so the rate) at 20.
cat > "$work/mosquitto.conf" <<CONF
listener $mport 127.0.0.1
allow_anonymous true
persistence false
max_connections -1
max_inflight_messages 1000
max_queued_messages 1000000
log_dest file $work/mosquitto.log
CONF
pg_as() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
    [ -n "${hub_pid:-}" ] && kill "$hub_pid" 2>/dev/null && wait "$hub_pid" 2>/dev/null
    [ -n "${pg_bin:-}" ] && pg_as "$pg_bin/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null 2>&1
    [ -n "${mq_pid:-}" ] && kill "$mq_pid" 2>/dev/null && wait "$mq_pid" 2>/dev/null
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
"$MOSQUITTO" -c "$work/mosquitto.conf" >/dev/null 2>&1 &
mq_pid=$!
if [ "$postgres" = 1 ]; then
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -x "$pg_bin/initdb" ] || { echo "fleet-sim.sh: --postgres needs the postgresql package" >&2; exit 2; }
    pport=$(free_port)
    mkdir -p "$work/pg"
    [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$work/pg" && chmod 755 "$work"
    pg_as "$pg_bin/initdb" -D "$work/pg/data" -U hashward --auth=trust -E UTF8 >/dev/null
    # Durable as shipped (fsync on): the figure compares stores that both commit to disk.
    pg_as "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
        -o "-p $pport -c listen_addresses=127.0.0.1 -k $work/pg" start >/dev/null
    hub_args="$hub_args --store postgres://hashward@127.0.0.1:$pport/postgres"
    say "== PostgreSQL on :$pport"
fi
# shellcheck disable=SC2086
RUST_LOG="${HUB_LOG:-warn}" "${HUB_BIN:-$bin/hashward-hub}" serve --broker "mqtt://127.0.0.1:$mport" --http "127.0.0.1:$hport" \
    --data-dir "$work/hub" $hub_args >"$work/hub.log" 2>&1 &
hub_pid=$!
hub_up=0
for _ in $(seq 1 300); do
    if python3 - "$hport" <<'PY' 2>/dev/null; then hub_up=1; break; fi
import json, sys, urllib.request
h = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1))
sys.exit(0 if h.get("ingest_subscribed") else 1)
PY
    sleep 0.2
done
if [ "$hub_up" != 1 ]; then
    echo "fleet-sim.sh: the hub did not subscribe within 60 s; log tail:" >&2
    tail -20 "$work/hub.log" >&2
    exit 1
fi
say "== hub pid $hub_pid on :$hport, mosquitto on :$mport; simulating ${sim_args[*]}"
set +e
"$bin/fleet-sim" --broker "127.0.0.1:$mport" --hub-http "127.0.0.1:$hport" --hub-pid "$hub_pid" \
    "${sim_args[@]}" >"$work/report.json"
status=$?
set -e
if [ "$status" != 0 ]; then
    echo "fleet-sim.sh: simulator failed ($status); hub log tail:" >&2
    tail -20 "$work/hub.log" >&2
fi
tail -1 "$work/report.json"
exit "$status"
