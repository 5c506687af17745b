#!/usr/bin/env bash
# Build a .deb with dpkg-deb from an already built binary (no cargo-deb, no debhelper).
#
#   packaging/build-deb.sh PACKAGE ARCH BINARY OUTDIR [VERSION]
#
# PACKAGE  hashward-agent | hashward-hub
# ARCH     Debian architecture: amd64 | arm64 | armhf (must match BINARY)
# BINARY   the release binary (cargo build --release [--target T]; see cross/)
# VERSION  Debian version, default <workspace version>-1
#
# Writes OUTDIR/PACKAGE_VERSION_ARCH.deb and prints its path. Layout and the conffile,
# maintainer-script and purge behaviour are described in packaging/README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

[ $# -ge 4 ] || { sed -n '2,13p' "$0" >&2; exit 2; }
pkg=$1 arch=$2 bin=$3 out=$4
upstream=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml")
version=${5:-$upstream-1}

case $arch in
    amd64) elf_machine="X86-64" ;;
    arm64) elf_machine="AArch64" ;;
    armhf) elf_machine="ARM" ;;
    *) echo "unknown arch $arch" >&2; exit 2 ;;
esac
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 1; }
if ! readelf -h "$bin" | grep -q "Machine:.*$elf_machine"; then
    echo "$bin is not an $arch ($elf_machine) binary" >&2
    exit 1
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
d="$stage/$pkg"
mkdir -p "$d/DEBIAN" "$d/usr/bin" "$d/usr/lib/systemd/system" "$d/usr/lib/sysusers.d" \
    "$d/etc/hashward" "$d/usr/share/doc/$pkg"

install -m 0755 "$bin" "$d/usr/bin/$pkg"
install -m 0644 "$root/systemd/$pkg.service" "$d/usr/lib/systemd/system/$pkg.service"
install -m 0644 "$root/systemd/sysusers.d/hashward.conf" "$d/usr/lib/sysusers.d/$pkg.conf"
install -m 0644 "$here/debian/copyright" "$d/usr/share/doc/$pkg/copyright"
install -m 0644 "$root/systemd/README.md" "$d/usr/share/doc/$pkg/README.md"

marker="# hashward-package: unconfigured (delete this line once site, rig and [broker] are set; the service does not start while it is here)"
case $pkg in
    hashward-agent)
        conf=/etc/hashward/agent.toml
        { echo "$marker"; cat "$root/agent/hashward-agent.example.toml"; } >"$d$conf"
        # The models the agent runs on-device (tract); the hub's models ship with the hub.
        for m in "$root"/models/*/; do
            [ -f "$m/model.onnx" ] || continue
            name=$(basename "$m")
            mkdir -p "$d/usr/share/hashward/models/$name"
            for f in model.onnx metadata.json MODEL_CARD.md; do
                [ ! -f "$m/$f" ] || install -m 0644 "$m/$f" "$d/usr/share/hashward/models/$name/$f"
            done
        done
        section=net
        summary="hashward mining agent: miner control, ASIC polling, telemetry over MQTT"
        long=" Runs a tuned CPU miner and controls it for heat, power source and NUMA
 topology, polls the ASICs next to it, runs small ONNX models on-device and
 reports everything over MQTT, spooling to disk while the network is down."
        ;;
    hashward-hub)
        conf=/etc/hashward/hub.env
        install -m 0644 "$here/debian/hub.env" "$d$conf"
        section=net
        summary="hashward fleet hub: MQTT ingest, store, HTTP API, signed config"
        long=" Subscribes to the fleet over MQTT, stores and aggregates rig, pool and
 market data, serves it over HTTP and as JSON topics for dashboards, and
 pushes signed configuration to rigs."
        ;;
    *) echo "unknown package $pkg" >&2; exit 2 ;;
esac
chmod 0640 "$d$conf"
echo "$conf" >"$d/DEBIAN/conffiles"

for s in postinst prerm postrm; do
    sed -e "s|@PKG@|$pkg|g" -e "s|@CONF@|$conf|g" "$here/debian/$s.in" >"$d/DEBIAN/$s"
    chmod 0755 "$d/DEBIAN/$s"
done

# A glibc-linked binary (armhf, a native amd64 build) needs libc6 new enough for the newest
# symbol version it references; a static musl binary needs nothing.
depends="passwd"
glibc=$(readelf -W --dyn-syms "$bin" 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' |
    sort -V | tail -n 1 || true)
if [ -n "$glibc" ]; then
    depends="libc6 (>= $glibc), $depends"
fi
if readelf -d "$bin" | grep -q 'NEEDED.*libgcc_s'; then
    depends="libgcc-s1, $depends"
fi

installed_kb=$(du -sk --exclude=DEBIAN "$d" | cut -f1)
cat >"$d/DEBIAN/control" <<EOF
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: hashward maintainers <hashward@example.invalid>
Installed-Size: $installed_kb
Depends: $depends
Section: $section
Priority: optional
Homepage: https://example.invalid/hashward
Description: $summary
$long
EOF
if [ "$pkg" = hashward-hub ]; then
    echo "Suggests: mosquitto" >>"$d/DEBIAN/control"
fi

mkdir -p "$out"
deb="$out/${pkg}_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$d" "$deb" >/dev/null
echo "$deb"
