#!/usr/bin/env bash
# Runs the cargo-fuzz targets one after another (never two fuzzers at once), each for a bounded
# time, and logs libFuzzer's final statistics per target to one file. Must never run past
# --until (a UTC time): the last target gets what is left, and none starts with under a minute.
#
# Usage: fuzz/campaign.sh [--seconds 600] [--until HH:MM] [--log FILE] [--queue FILE]
#   The queue file lists "feature target corpus-dir..." one per line (feature "-" for none); it
#   is re-read before each target, so targets can be appended while the campaign runs. Without
#   --queue the built-in list below (every target in fuzz/README.md) is used.
# Needs: a nightly toolchain and cargo-fuzz. CARGO_TARGET_DIR may point at a scratch directory.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
seconds=600
until_utc=""
log="/tmp/fz/campaign.log"
queue=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --until) until_utc="$2"; shift 2 ;;
    --log) log="$2"; shift 2 ;;
    --queue) queue="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$(dirname "$log")" /tmp/fz
default_queue() {
  cat <<'Q'
- envelope corpus/envelope
- signed corpus/signed
- command corpus/command
- fleet_hints corpus/fleet_hints
- model_announcement corpus/model_announcement
- topic corpus/topic corpus/scope corpus/broker_addr
agent stratum_line corpus/stratum_line corpus/pool_url
agent asic_reply corpus/asic_cgminer corpus/asic_antminer corpus/asic_vnish corpus/antminer_digest
agent agent_config corpus/agent_config
hub hub_config corpus/hub_config
hub collector_json corpus/collector_json
hub wamp_message corpus/wamp_message
Q
}
next_line() {
  # The first queued target not yet in the log's "done" lines.
  local src
  if [ -n "$queue" ]; then src="$(cat "$queue")"; else src="$(default_queue)"; fi
  while read -r feature target rest; do
    [ -z "${target:-}" ] && continue
    case "$feature" in \#*) continue ;; esac
    if ! grep -q "^done $target " "$log" 2>/dev/null; then
      echo "$feature $target $rest"
      return 0
    fi
  done <<<"$src"
  return 1
}
cd "$here"
bin_dir="${CARGO_TARGET_DIR:-$here/target}/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"
echo "campaign start $(date -u +%FT%TZ) seconds=$seconds until=${until_utc:-none}" >>"$log"
while line="$(next_line)"; do
  read -r feature target corpora <<<"$line"
  features=()
  [ "$feature" != "-" ] && features=(--features "$feature")
  budget="$seconds"
  if [ -n "$until_utc" ]; then
    left=$(( $(date -u -d "$until_utc" +%s) - $(date -u +%s) ))
    # Building takes a while too: leave it a minute.
    if [ "$left" -lt 120 ]; then
      echo "stop $(date -u +%FT%TZ): not enough time left for $target (${left}s)" >>"$log"
      break
    fi
    [ $((left - 60)) -lt "$budget" ] && budget=$((left - 60))
  fi
  echo "build $target $(date -u +%FT%TZ)" >>"$log"
  if ! nice -n 10 cargo +nightly fuzz build --sanitizer none -O "${features[@]}" "$target" >>"$log.build" 2>&1; then
    echo "done $target build-failed $(date -u +%FT%TZ)" >>"$log"
    continue
  fi
  scratch="/tmp/fz/$target"
  mkdir -p "$scratch"
  out="/tmp/fz/$target.out"
  echo "run $target budget=${budget}s start=$(date -u +%FT%TZ)" >>"$log"
  # shellcheck disable=SC2086
  set +e
  # The binary is run directly, not through `cargo fuzz run`, so that a build of other targets
  # (holding cargo's lock) never delays a run.
  nice -n 10 "$bin_dir/$target" "$scratch" $corpora \
    -max_total_time="$budget" -print_final_stats=1 -artifact_prefix="/tmp/fz/$target-" >"$out" 2>&1
  rc=$?
  set -e
  # A missing field (a run that died early) must not end the campaign: `|| true` throughout.
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out" | awk '{print $2}' | tail -1 || true)
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$out" | awk '{print $2}' | tail -1 || true)
  cov=$(grep -o 'cov: [0-9]*' "$out" | awk '{print $2}' | tail -1 || true)
  corp=$(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' "$out" | awk '{print $2}' | tail -1 || true)
  crashes=$(find /tmp/fz -maxdepth 1 \( -name "$target-crash-*" -o -name "$target-oom-*" -o -name "$target-timeout-*" \) | wc -l)
  echo "done $target rc=$rc seconds=$budget execs=${execs:-?} exec_per_s=${speed:-?} cov=${cov:-?} corpus=${corp:-?} crashes=$crashes end=$(date -u +%FT%TZ)" >>"$log"
done
echo "campaign end $(date -u +%FT%TZ)" >>"$log"
