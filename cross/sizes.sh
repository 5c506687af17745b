#!/usr/bin/env bash
# Stripped release size of the agent for TARGET with each feature set a controller build may
# pick, as a Markdown table (what BENCHMARKS.md and cross/README.md record).
#
#   cross/sizes.sh [TARGET]        default TARGET: aarch64-unknown-linux-musl
#
# One release build (fat LTO) per feature set through cross/build-and-test.sh --release-only;
# the full build runs last so $CARGO_TARGET_DIR/TARGET/release/hashward-agent is the shipped one.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-aarch64-unknown-linux-musl}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for f in "--no-default-features" \
         "--no-default-features --features cpu-miner" \
         "--no-default-features --features infer" \
         ""; do
    HASHWARD_SIZE_OUT=$out AGENT_FEATURES="$f" cross/build-and-test.sh "$target" --release-only >&2
done
echo "| target | cargo features | bytes | MiB |"
echo "|---|---|---|---|"
while read -r t rest; do
    bytes=${rest##* }
    feats=${rest% *}
    case $feats in
        default) feats="all (cpu-miner, infer)" ;;
        "--no-default-features") feats="none (no CPU miner, no inference)" ;;
        "--no-default-features --features cpu-miner") feats="cpu-miner (no inference)" ;;
        "--no-default-features --features infer") feats="infer (no CPU miner)" ;;
    esac
    echo "| $t | $feats | $bytes | $(awk "BEGIN{printf \"%.2f\", $bytes/1048576}") |"
done <"$out"
