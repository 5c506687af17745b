#!/usr/bin/env bash
# A flat apt repository from .debs, for a LAN mirror rigs install from:
#
#   packaging/build-apt-repo.sh [--sign KEYID] OUTDIR DEB...
#
# Copies the debs into OUTDIR and writes Packages, Packages.gz and Release (MD5Sum, SHA256),
# with only dpkg-deb, coreutils and gzip (no dpkg-dev / apt-utils). With --sign, gpg writes
# InRelease and Release.gpg. Rigs use it as
#   deb [trusted=yes] http://MIRROR/ ./                      (unsigned, trusted LAN)
#   deb [signed-by=/etc/apt/keyrings/hashward.gpg] http://MIRROR/ ./
# Re-running with more debs adds them; several versions of a package may sit side by side
# (apt picks the newest).
set -euo pipefail
key=
if [ "${1:-}" = --sign ]; then key=$2; shift 2; fi
[ $# -ge 2 ] || { sed -n '2,13p' "$0" >&2; exit 2; }
out=$1
shift
mkdir -p "$out"
for deb in "$@"; do
    cp -f "$deb" "$out/"
done

cd "$out"
: >Packages.new
for deb in $(ls -1 ./*.deb | sort); do
    f=${deb#./}
    # The control paragraph as dpkg-deb has it, plus what apt needs to fetch and check the file.
    dpkg-deb -f "$f" | sed '/^$/d'
    echo "Filename: ./$f"
    echo "Size: $(stat -c %s "$f")"
    echo "MD5sum: $(md5sum "$f" | cut -d' ' -f1)"
    echo "SHA256: $(sha256sum "$f" | cut -d' ' -f1)"
    echo
done >>Packages.new
mv Packages.new Packages
gzip -9nc Packages >Packages.gz

archs=$(sed -n 's/^Architecture: //p' Packages | sort -u | tr '\n' ' ' | sed 's/ $//')
{
    echo "Origin: hashward"
    echo "Label: hashward"
    echo "Suite: stable"
    echo "Architectures: $archs"
    echo "Date: $(LC_ALL=C date -u -R)"
    echo "MD5Sum:"
    for f in Packages Packages.gz; do echo " $(md5sum "$f" | cut -d' ' -f1) $(stat -c %s "$f") $f"; done
    echo "SHA256:"
    for f in Packages Packages.gz; do echo " $(sha256sum "$f" | cut -d' ' -f1) $(stat -c %s "$f") $f"; done
} >Release
rm -f InRelease Release.gpg
if [ -n "$key" ]; then
    gpg --batch --yes --local-user "$key" --clearsign -o InRelease Release
    gpg --batch --yes --local-user "$key" -abs -o Release.gpg Release
fi
echo "$(grep -c '^Package:' Packages) packages in $(pwd)"
