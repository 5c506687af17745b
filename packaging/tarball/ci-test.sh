#!/usr/bin/env bash
# Check the static tarball the way a controller uses it:
#
#   packaging/tarball/ci-test.sh TARGET BINARY
#
# builds the tarball, unpacks it, runs install.sh into a scratch root (configured with --rig and
# --broker), then runs the installed init script under BusyBox sh: start, status, the agent is
# up, kill the agent -> the supervisor respawns it, stop -> nothing left running. A foreign
# binary (aarch64) runs through qemu-user via binfmt_misc, as in cross/build-and-test.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 2 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
target=$1 bin=$2
sh="sh"
if command -v busybox >/dev/null; then sh="busybox sh"; fi

fail() { echo "FAIL: $*" >&2; [ ! -f "${log:-}" ] || tail -n 20 "$log" >&2; exit 1; }
passed=0
ok() { echo "   ok: $*"; passed=$((passed + 1)); }

w=$(mktemp -d /var/tmp/hashward-tarball.XXXXXX)
cleanup() {
    if [ -n "${init:-}" ]; then $sh "$init" stop >/dev/null 2>&1 || true; fi
    rm -rf "$w"
}
trap cleanup EXIT

tarball=$("$here/../build-tarball.sh" "$target" "$bin" "$w/out")
ok "built $(basename "$tarball") ($(stat -c %s "$tarball") bytes)"
tar -C "$w" -xzf "$tarball"
dir="$w/$(basename "$tarball" .tar.gz)"
for f in bin/hashward-agent share/agent.toml.example init.d/hashward-agent install.sh README.md \
    share/models/sentinel_rig/model.onnx; do
    [ -e "$dir/$f" ] || fail "tarball lacks $f"
done
ok "tarball has binary, example config, models, init script, install.sh, README"
if readelf -l "$dir/bin/hashward-agent" | grep -q 'program interpreter'; then
    fail "binary is not static"
fi
ok "binary is static"

R="$w/root"
$sh "$dir/install.sh" --root "$R" --site ci --rig ci-tarball --broker mqtt://127.0.0.1:9 \
    --data-dir "$R/var/lib/hashward" >/dev/null
[ -x "$R/usr/bin/hashward-agent" ] && [ -x "$R/etc/init.d/hashward-agent" ] || fail "install.sh"
grep -qx 'rig = "ci-tarball"' "$R/etc/hashward/agent.toml" || fail "install.sh did not set rig"
grep -q '^url = "mqtt://127.0.0.1:9"' "$R/etc/hashward/agent.toml" || fail "install.sh did not set broker"
ok "install.sh --root: binary, init script, configured agent.toml"
echo "# edited" >>"$R/etc/hashward/agent.toml"
$sh "$dir/install.sh" --root "$R" --rig other --broker mqtt://x:1 >/dev/null
grep -qx '# edited' "$R/etc/hashward/agent.toml" || fail "re-install overwrote agent.toml"
ok "re-running install.sh keeps an existing agent.toml"

log="$R/var/log/hashward-agent.log"
mkdir -p "$R/var/log" "$R/var/run"
cat >"$w/defaults" <<EOF
DAEMON=$R/usr/bin/hashward-agent
CONFIG=$R/etc/hashward/agent.toml
PIDFILE=$R/var/run/hashward-agent.pid
LOGFILE=$log
USE_SYSLOG=no
EOF
export HASHWARD_INIT_DEFAULTS="$w/defaults"
init="$R/etc/init.d/hashward-agent"

# The agent processes started from this root ("[h]" so that no command line holding the pattern
# itself, like a `bash -c` below, matches).
pattern="$R/usr/bin/[h]ashward-agent run"
agent_pid() { pgrep -f "$pattern" | head -n 1 || true; }
wait_for() { # wait_for SECONDS COMMAND...
    local n=$(($1 * 10))
    shift
    while [ $n -gt 0 ]; do
        if "$@"; then return 0; fi
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}

$sh "$init" start >/dev/null || fail "init start"
$sh "$init" status >/dev/null || fail "init status after start"
wait_for 20 test -n "$(agent_pid)" || fail "agent not running after start"
first=$(agent_pid)
ok "init script start: agent running (pid $first)"
wait_for 30 grep -q "hashward" "$log" || fail "no agent output in $log"
ok "agent output in the log file"
kill -KILL "$first"
wait_for 20 bash -c "p=\$(pgrep -f '$pattern' | head -n1); [ -n \"\$p\" ] && [ \"\$p\" != $first ]" ||
    fail "agent not respawned after kill"
grep -q "exited (137) after .*restarting in 5s" "$log" || fail "no respawn note in the log"
ok "killed agent respawned by the supervisor ($(agent_pid))"
$sh "$init" stop >/dev/null || fail "init stop"
wait_for 10 test -z "$(agent_pid)" || fail "agent still running after stop"
if $sh "$init" status >/dev/null; then fail "status says running after stop"; fi
init=
ok "init script stop: supervisor and agent gone"
echo "tarball: $passed passed, 0 failed"
