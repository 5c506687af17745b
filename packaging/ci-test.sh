#!/usr/bin/env bash
# Package lifecycle check on a clean Debian root (debootstrap + chroot, no container engine):
#
#   packaging/ci-test.sh AGENT_BIN HUB_BIN       (amd64 release binaries)
#
# For hashward-agent and hashward-hub: build version -1 and -2 debs, dpkg -i -1 into a fresh
# root, check files, user, permissions, enablement (not started), `systemd-analyze verify`; edit
# the conffile; upgrade to -2 (same conffile) and to a -3 whose shipped conffile changed
# (--force-confold, as apt's unattended default); check the edit survived each step; purge and
# check nothing of the package is left (file-system snapshot before install vs after purge).
#
# The base root (bookworm/host codename, minbase + systemd) is made once and cached as a tarball
# in $HOME/.cache/hashward-debroot; later runs unpack it in seconds. Needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 2 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
agent_bin=$(readlink -f "$1")
hub_bin=$(readlink -f "$2")
[ "$(id -u)" -eq 0 ] || { echo "needs root (debootstrap, chroot)" >&2; exit 1; }

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "   ok: $*"; }
passed=0
check_eq() { # check_eq DESCRIPTION ACTUAL EXPECTED
    if [ "$2" = "$3" ]; then ok "$1"; passed=$((passed + 1)); else fail "$1: got '$2', want '$3'"; fi
}
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@" >/dev/null; then ok "$what"; passed=$((passed + 1)); else fail "$what"; fi
}

# --- base root, cached ---------------------------------------------------------------------
. /etc/os-release
suite=${HASHWARD_DEB_SUITE:-${VERSION_CODENAME:-bookworm}}
cache=${HASHWARD_DEBROOT_CACHE:-$HOME/.cache/hashward-debroot}
base="$cache/$suite-amd64-minbase-systemd.tar"
mkdir -p "$cache"
if [ ! -s "$base" ]; then
    if ! command -v debootstrap >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    fi
    # The Debian mirror this machine's apt already uses (never a hard-coded host).
    mirror=${HASHWARD_DEB_MIRROR:-}
    if [ -z "$mirror" ]; then
        mirror=$(awk '/^URIs:/{u=$2} /^Suites:/{for(i=2;i<=NF;i++) if($i==s){print u; exit}}' \
            s="$suite" /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 || true)
    fi
    if [ -z "$mirror" ]; then
        mirror=$(awk -v s="$suite" '$1=="deb" && $3==s {print $2; exit}' /etc/apt/sources.list \
            /etc/apt/sources.list.d/*.list 2>/dev/null | head -n1 || true)
    fi
    [ -n "$mirror" ] || fail "no Debian mirror for $suite in the apt sources; set HASHWARD_DEB_MIRROR"
    echo "== debootstrap $suite (minbase + systemd) from the apt mirror, cached in $base"
    t0=$SECONDS
    tmp=$(mktemp -d /var/tmp/hashward-debootstrap.XXXXXX)
    debootstrap --variant=minbase --include=systemd,passwd "$suite" "$tmp" "$mirror" \
        >"$cache/debootstrap.log" 2>&1 || { tail -n 30 "$cache/debootstrap.log" >&2; fail "debootstrap"; }
    rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
    tar -C "$tmp" -cf "$base.part" . && mv "$base.part" "$base"
    rm -rf "$tmp"
    echo "   base root made in $((SECONDS - t0)) s"
fi

R=$(mktemp -d /var/tmp/hashward-root.XXXXXX)
cleanup() {
    umount "$R/proc" 2>/dev/null || true
    umount "$R/dev" 2>/dev/null || true
    rm -rf --one-file-system "$R"
}
trap cleanup EXIT
tar -C "$R" -xf "$base"
mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"
in_root() { chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }

# --- debs ----------------------------------------------------------------------------------
debs="$R/tmp/debs"
mkdir -p "$debs"
for pkg in hashward-agent hashward-hub; do
    bin=$agent_bin
    [ $pkg = hashward-agent ] || bin=$hub_bin
    for rev in 1 2; do
        "$here/build-deb.sh" "$pkg" amd64 "$bin" "$debs" "0.0.0~ci-$rev" >/dev/null
    done
    # -3: the upstream conffile changed, so dpkg has to choose (the admin's edit must win).
    x=$(mktemp -d)
    dpkg-deb -R "$debs/${pkg}_0.0.0~ci-2_amd64.deb" "$x"
    conf=$(cat "$x/DEBIAN/conffiles")
    echo "# a line added upstream in -3" >>"$x$conf"
    sed -i 's/^Version: .*/Version: 0.0.0~ci-3/' "$x/DEBIAN/control"
    dpkg-deb --root-owner-group --build "$x" "$debs/${pkg}_0.0.0~ci-3_amd64.deb" >/dev/null
    rm -rf "$x"
done

snapshot() { # every path in the root with type, mode and owner, minus dpkg's own bookkeeping
    (cd "$R" && find . -xdev \( -path ./proc -o -path ./dev -o -path ./tmp -o -path ./run \) -prune -o -printf '%y %m %u:%g %p\n') |
        grep -vE ' \./var/lib/dpkg/|\./var/log/|\./var/cache/|\./etc/(passwd|group|shadow|gshadow)-?$|\./etc/\.pwd\.lock|\./etc/subuid|\./etc/subgid|\./etc/ld\.so\.cache' |
        sort
}

# --- one package through install, edit, upgrade, purge --------------------------------------
lifecycle() {
    local pkg=$1 conf=$2 bin=$3
    echo "== $pkg: install on a clean $suite root"
    snapshot >"$R/tmp/before"
    in_root dpkg -i "/tmp/debs/${pkg}_0.0.0~ci-1_amd64.deb" </dev/null >"$R/tmp/dpkg.log" 2>&1 ||
        { cat "$R/tmp/dpkg.log" >&2; fail "dpkg -i $pkg"; }
    check_eq "dpkg status installed" \
        "$(in_root dpkg-query -W -f '${Status} ${Version}' "$pkg")" "install ok installed 0.0.0~ci-1"
    check "binary runs: $(in_root "/usr/bin/$pkg" --version | head -n1)" in_root "/usr/bin/$pkg" --version
    check "system user hashward (nologin, system uid)" \
        in_root sh -c 'getent passwd hashward | awk -F: "\$3 < 1000 && \$7 ~ /nologin/ {ok=1} END {exit !ok}"'
    check "group hashward" in_root getent group hashward
    check "unit, sysusers.d installed" \
        test -f "$R/usr/lib/systemd/system/$pkg.service" -a -f "$R/usr/lib/sysusers.d/$pkg.conf"
    check_eq "$conf is a conffile, root:hashward 0640" \
        "$(in_root stat -c '%U:%G %a' "$conf")" "root:hashward 640"
    check "listed in conffiles" in_root sh -c "dpkg-query -W -f '\${Conffiles}' $pkg | grep -q ' $conf '"
    check_eq "/var/lib/hashward hashward:hashward 0750" \
        "$(in_root stat -c '%U:%G %a' /var/lib/hashward)" "hashward:hashward 750"
    check "enabled (multi-user.target.wants)" \
        test -L "$R/etc/systemd/system/multi-user.target.wants/$pkg.service"
    # Not started until configured: the unit's ExecCondition fails while the marker is there.
    local cond
    cond=$(sed -n "s/^ExecCondition=//p" "$R/usr/lib/systemd/system/$pkg.service")
    check "unconfigured: ExecCondition skips the start" bash -c "! chroot '$R' $cond"
    if [ $pkg = hashward-agent ]; then
        check "models installed" test -s "$R/usr/share/hashward/models/sentinel_rig/model.onnx"
    fi
    in_root systemd-analyze verify "/usr/lib/systemd/system/$pkg.service" >"$R/tmp/verify.log" 2>&1 ||
        { cat "$R/tmp/verify.log" >&2; fail "systemd-analyze verify $pkg.service"; }
    if grep -q "$pkg" "$R/tmp/verify.log"; then
        cat "$R/tmp/verify.log" >&2
        fail "systemd-analyze verify warns about $pkg.service"
    fi
    ok "systemd-analyze verify $pkg.service: clean"
    passed=$((passed + 1))

    echo "== $pkg: configure (edit the conffile), upgrade to -2, then to -3 with a changed conffile"
    sed -i '/^# hashward-package: unconfigured/d' "$R$conf"
    echo "# edited by ci-test: keep me" >>"$R$conf"
    check "configured: ExecCondition lets it start" bash -c "chroot '$R' $cond"
    in_root dpkg -i "/tmp/debs/${pkg}_0.0.0~ci-2_amd64.deb" </dev/null >"$R/tmp/dpkg.log" 2>&1 ||
        { cat "$R/tmp/dpkg.log" >&2; fail "upgrade $pkg to -2"; }
    check_eq "upgraded to -2" "$(in_root dpkg-query -W -f '${Version}' "$pkg")" "0.0.0~ci-2"
    check "edit kept over -2" grep -qx "# edited by ci-test: keep me" "$R$conf"
    check "marker not back" bash -c "! grep -q '^# hashward-package: unconfigured' '$R$conf'"
    in_root dpkg -i --force-confold "/tmp/debs/${pkg}_0.0.0~ci-3_amd64.deb" </dev/null \
        >"$R/tmp/dpkg.log" 2>&1 || { cat "$R/tmp/dpkg.log" >&2; fail "upgrade $pkg to -3"; }
    check_eq "upgraded to -3" "$(in_root dpkg-query -W -f '${Version}' "$pkg")" "0.0.0~ci-3"
    check "edit kept over -3 (changed upstream conffile)" grep -qx "# edited by ci-test: keep me" "$R$conf"
    check "new upstream conffile beside it as .dpkg-dist" grep -q "added upstream in -3" "$R$conf.dpkg-dist"
    check_eq "still root:hashward 0640" "$(in_root stat -c '%U:%G %a' "$conf")" "root:hashward 640"
    check "still enabled" test -L "$R/etc/systemd/system/multi-user.target.wants/$pkg.service"

    echo "== $pkg: purge"
    # State the service would have written.
    if [ $pkg = hashward-agent ]; then
        touch "$R/var/lib/hashward/spool.redb" "$R/var/lib/hashward/perf.redb"
    else
        install -d "$R/var/lib/hashward/hub" && touch "$R/var/lib/hashward/hub/hub.redb"
    fi
    in_root dpkg --purge "$pkg" </dev/null >"$R/tmp/dpkg.log" 2>&1 ||
        { cat "$R/tmp/dpkg.log" >&2; fail "purge $pkg"; }
    check "not installed any more" bash -c "! chroot '$R' dpkg-query -W -f '\${Status}' $pkg 2>/dev/null | grep -q installed"
    snapshot >"$R/tmp/after"
    if ! diff -u "$R/tmp/before" "$R/tmp/after" >"$R/tmp/diff"; then
        cat "$R/tmp/diff" >&2
        fail "purge left files behind (diff against the root before install above)"
    fi
    ok "purge clean: file system as before install"
    passed=$((passed + 1))
    check "the hashward user stays (Debian keeps system users)" in_root getent passwd hashward
}

t0=$SECONDS
lifecycle hashward-agent /etc/hashward/agent.toml "$agent_bin"
lifecycle hashward-hub /etc/hashward/hub.env "$hub_bin"

echo "== both packages on one host: separate state, purge of one keeps the other's"
in_root dpkg -i /tmp/debs/hashward-agent_0.0.0~ci-2_amd64.deb /tmp/debs/hashward-hub_0.0.0~ci-2_amd64.deb \
    </dev/null >"$R/tmp/dpkg.log" 2>&1 || { cat "$R/tmp/dpkg.log" >&2; fail "install both"; }
touch "$R/var/lib/hashward/spool.redb"
install -d "$R/var/lib/hashward/hub" && touch "$R/var/lib/hashward/hub/hub.redb"
in_root dpkg --purge hashward-agent </dev/null >"$R/tmp/dpkg.log" 2>&1 || fail "purge agent"
check "hub config and store survive the agent's purge" \
    test -f "$R/etc/hashward/hub.env" -a -f "$R/var/lib/hashward/hub/hub.redb" -a ! -e "$R/var/lib/hashward/spool.redb"
in_root dpkg --purge hashward-hub </dev/null >"$R/tmp/dpkg.log" 2>&1 || fail "purge hub"
check "nothing left after both purges" test ! -e "$R/etc/hashward" -a ! -e "$R/var/lib/hashward"

echo "== apt install from a repository made by build-apt-repo.sh (file: source, no network)"
"$here/build-apt-repo.sh" "$R/tmp/repo" "$debs"/hashward-*_0.0.0~ci-[12]_amd64.deb >/dev/null
echo "deb [trusted=yes] file:/tmp/repo ./" >"$R/tmp/hashward.list"
apt_opts=(-o Dir::Etc::sourcelist=/tmp/hashward.list -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 -qq)
in_root apt-get "${apt_opts[@]}" update >"$R/tmp/apt.log" 2>&1 || { cat "$R/tmp/apt.log" >&2; fail "apt-get update"; }
in_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" -y install hashward-agent \
    >"$R/tmp/apt.log" 2>&1 || { cat "$R/tmp/apt.log" >&2; fail "apt-get install hashward-agent"; }
check_eq "apt-get install hashward-agent picks the newest version" \
    "$(in_root dpkg-query -W -f '${Version}' hashward-agent)" "0.0.0~ci-2"
in_root dpkg --purge hashward-agent </dev/null >/dev/null 2>&1 || fail "purge after apt install"

echo "== deb lifecycle on $suite took $((SECONDS - t0)) s"
echo "deb: $passed passed, 0 failed"
