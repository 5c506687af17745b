#!/bin/sh
# Install hashward-agent from this tarball on a controller without systemd or apt (BusyBox init,
# OpenWrt, buildroot). POSIX sh / BusyBox ash; run as root from the unpacked folder.
#
#   ./install.sh [--root DIR] [--data-dir DIR] [--site S --rig R --broker URL] [--no-start]
#
#   --root DIR      install into DIR instead of / (staging a controller image)
#   --data-dir DIR  agent state (spool, counters); must survive reboots. Default
#                   /var/lib/hashward; on OpenWrt, where /var is RAM, use e.g. /overlay/hashward.
#   --site/--rig/--broker  write a ready configuration (otherwise the config is left
#                   "unconfigured" and the agent does not start until you edit it)
#   --no-start      enable at boot but do not start now
#
# Never overwrites an existing /etc/hashward/agent.toml: the new example goes to
# /usr/share/hashward/agent.toml.example. Re-running it upgrades the binary, models and init script.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=/
data_dir=/var/lib/hashward
site="" rig="" broker="" start=1
while [ $# -gt 0 ]; do
    case $1 in
        --root) root=$2; shift 2 ;;
        --data-dir) data_dir=$2; shift 2 ;;
        --site) site=$2; shift 2 ;;
        --rig) rig=$2; shift 2 ;;
        --broker) broker=$2; shift 2 ;;
        --no-start) start=0; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
R=${root%/}

# The binary must run here (static musl builds run on any kernel of their architecture).
if [ -z "$R" ] && ! "$here/bin/hashward-agent" --version >/dev/null 2>&1; then
    echo "install.sh: bin/hashward-agent does not run on this machine ($(uname -m)); wrong tarball?" >&2
    exit 1
fi

mkdir -p "$R/usr/bin" "$R/etc/hashward" "$R/etc/init.d" "$R/usr/share/hashward" "$R$data_dir"
cp "$here/bin/hashward-agent" "$R/usr/bin/hashward-agent.new"
chmod 0755 "$R/usr/bin/hashward-agent.new"
mv "$R/usr/bin/hashward-agent.new" "$R/usr/bin/hashward-agent"
rm -rf "$R/usr/share/hashward/models"
cp -R "$here/share/models" "$R/usr/share/hashward/models"
cp "$here/share/agent.toml.example" "$R/usr/share/hashward/agent.toml.example"
cp "$here/init.d/hashward-agent" "$R/etc/init.d/hashward-agent"
chmod 0755 "$R/etc/init.d/hashward-agent"
chmod 0700 "$R$data_dir"

conf="$R/etc/hashward/agent.toml"
if [ -e "$conf" ]; then
    echo "kept existing /etc/hashward/agent.toml (new example: /usr/share/hashward/agent.toml.example)"
else
    if [ -n "$rig" ] && [ -n "$broker" ]; then
        sed -e "s|^site = .*|site = \"${site:-home}\"|" -e "s|^rig = .*|rig = \"$rig\"|" \
            -e "s|^data_dir = .*|data_dir = \"$data_dir\"|" \
            -e "/^\[broker\]/,/^\[/s|^url = .*|url = \"$broker\"|" \
            "$here/share/agent.toml.example" >"$conf.new"
    else
        { echo "# hashward-package: unconfigured (delete this line once site, rig and [broker] are set; the service does not start while it is here)"
          sed -e "s|^data_dir = .*|data_dir = \"$data_dir\"|" "$here/share/agent.toml.example"; } >"$conf.new"
    fi
    chmod 0600 "$conf.new"
    mv "$conf.new" "$conf"
    echo "wrote /etc/hashward/agent.toml"
fi

# Start at boot: OpenWrt/rc.d-style symlink, or update-rc.d / rc-update where those exist.
if [ -z "$R" ] && command -v update-rc.d >/dev/null 2>&1; then
    update-rc.d hashward-agent defaults >/dev/null
elif [ -z "$R" ] && command -v rc-update >/dev/null 2>&1; then
    rc-update add hashward-agent default >/dev/null
elif [ -d "$R/etc/rc.d" ]; then
    ln -sf ../init.d/hashward-agent "$R/etc/rc.d/S95hashward-agent"
else
    # BusyBox rcS runs /etc/init.d/S??* in order.
    ln -sf hashward-agent "$R/etc/init.d/S95hashward-agent"
fi
echo "installed hashward-agent $("$here/bin/hashward-agent" --version 2>/dev/null | awk '{print $2}') into ${root}"

if [ -z "$R" ] && [ $start = 1 ]; then
    /etc/init.d/hashward-agent restart
fi
