#!/usr/bin/env bash
# Static tarball of the agent for controllers without systemd or apt (BusyBox init, OpenWrt).
#
#   packaging/build-tarball.sh TARGET BINARY OUTDIR
#
# TARGET is the Rust target the binary was built for (aarch64-unknown-linux-musl,
# x86_64-unknown-linux-musl; armv7-unknown-linux-gnueabihf is accepted but needs glibc on the
# controller). Writes OUTDIR/hashward-agent-VERSION-TARGET.tar.gz with: bin/hashward-agent,
# share/agent.toml.example, share/models/, init.d/hashward-agent (BusyBox-compatible, respawns),
# install.sh and README.md. Reproducible: fixed owner, order and mtime.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
[ $# -eq 3 ] || { sed -n '2,11p' "$0" >&2; exit 2; }
target=$1 bin=$2 out=$3
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml")
if readelf -l "$bin" | grep -q 'Requesting program interpreter'; then
    case $target in
        *-musl*) echo "$bin is dynamically linked; a musl build must be static" >&2; exit 1 ;;
        *) echo "note: $bin is dynamically linked ($target): the controller needs a compatible glibc" >&2 ;;
    esac
fi
name="hashward-agent-$version-$target"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
d="$stage/$name"
mkdir -p "$d/bin" "$d/share/models" "$d/init.d"
install -m 0755 "$bin" "$d/bin/hashward-agent"
install -m 0644 "$root/agent/hashward-agent.example.toml" "$d/share/agent.toml.example"
for m in "$root"/models/*/; do
    [ -f "$m/model.onnx" ] || continue
    n=$(basename "$m")
    mkdir -p "$d/share/models/$n"
    for f in model.onnx metadata.json MODEL_CARD.md; do
        [ ! -f "$m/$f" ] || install -m 0644 "$m/$f" "$d/share/models/$n/$f"
    done
done
install -m 0755 "$here/tarball/hashward-agent.init" "$d/init.d/hashward-agent"
install -m 0755 "$here/tarball/install.sh" "$d/install.sh"
sed -n '/^## Static tarball/,/^## [^S]/p' "$here/README.md" | sed '$d' >"$d/README.md"
mkdir -p "$out"
tarball="$out/$name.tar.gz"
mtime=$(git -C "$root" log -1 --format=%cI 2>/dev/null || echo 2026-01-01T00:00:00Z)
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="$mtime" -cf - "$name" |
    gzip -9n >"$tarball"
echo "$tarball"
