#!/usr/bin/env bash
# Cross-build the agent for TARGET and run its test suite for that target under qemu-user.
#
#   cross/build-and-test.sh TARGET [--release-only | --test-only] [--with-hub]
#
# TARGET: aarch64-unknown-linux-musl | armv7-unknown-linux-gnueabihf | x86_64-unknown-linux-musl
#
# Installs what it needs (rustup target, Debian cross linker / clang, qemu-user-static), builds
# the release agent (and with --with-hub the hub), prints the stripped size, then builds the
# agent's tests in the dev profile (faster to build than release; the agent and its dependencies
# are still optimised, see [profile.dev.*] in Cargo.toml) and runs them with qemu as the cargo
# runner. Environment:
#   CARGO_TARGET_DIR   default $HOME/.cache/hashward-cross-target (one dir for every target, so
#                      build scripts and proc-macros for the host are built once)
#   AGENT_FEATURES     e.g. "--no-default-features --features asic" (passed to the agent build)
#   HASHWARD_SIZE_OUT  append "TARGET FEATURES BYTES" lines here (used by .ci/ship)
#   ARMV7_TOOLCHAIN    zig (default): link armv7 against glibc 2.17 with cargo-zigbuild (zig
#                      from PyPI, in a venv under $HOME/.cache/hashward-zig); gcc: Debian's
#                      arm-linux-gnueabihf-gcc, glibc >= 2.34 (see cross/README.md)
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,20p' "$0" >&2; exit 2; }
[ $# -ge 1 ] || usage
target=$1
shift
do_release=1 do_test=1 with_hub=0 zigbuild=0
for a in "$@"; do
    case $a in
        --release-only) do_test=0 ;;
        --test-only) do_release=0 ;;
        --with-hub) with_hub=1 ;;
        *) usage ;;
    esac
done

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/hashward-cross-target}"
export CARGO_TERM_COLOR=never
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages, installed only when a command from them is missing.
need_apt=()
need() { command -v "$1" >/dev/null 2>&1 || need_apt+=("$2"); }
case $target in
    aarch64-unknown-linux-musl)
        # ring's C and assembly: clang cross-compiles with --target (cc-rs adds it) using only
        # its own freestanding headers; no aarch64 gcc or musl sysroot is needed. rust-lld
        # links against the musl libc.a that rustup ships for this target.
        need clang clang
        need llvm-ar llvm
        need qemu-aarch64-static qemu-user-static
        need update-binfmts binfmt-support
        export CC_aarch64_unknown_linux_musl=clang
        export AR_aarch64_unknown_linux_musl=llvm-ar
        qemu=qemu-aarch64-static
        ;;
    x86_64-unknown-linux-musl)
        need clang clang
        need llvm-ar llvm
        export CC_x86_64_unknown_linux_musl=clang
        export AR_x86_64_unknown_linux_musl=llvm-ar
        qemu=
        ;;
    armv7-unknown-linux-gnueabihf)
        need qemu-arm-static qemu-user-static
        need update-binfmts binfmt-support
        # Debian's armhf loader and libc, for qemu (the binaries are dynamically linked).
        [ -e /usr/arm-linux-gnueabihf/lib/ld-linux-armhf.so.3 ] || need_apt+=(libc6-armhf-cross)
        if [ "${ARMV7_TOOLCHAIN:-zig}" = zig ]; then
            # zig as C compiler and linker against its glibc 2.17 symbol map: the binary runs on
            # any armv7 controller with glibc >= 2.17 (Debian's cross toolchain: >= 2.34).
            zig_venv="$HOME/.cache/hashward-zig"
            zigbuild=1
            cargo_target=$target.2.17
        else
            # Debian bookworm's cross gcc and glibc 2.36 headers/libs (libc6-dev-armhf-cross).
            need arm-linux-gnueabihf-gcc gcc-arm-linux-gnueabihf
            export CC_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-gcc
            export AR_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-ar
        fi
        # Dynamically linked: qemu finds ld-linux-armhf.so.3 and libc under this prefix, for the
        # test binaries (runner) and for the agent binary the tests spawn (binfmt_misc).
        export QEMU_LD_PREFIX=/usr/arm-linux-gnueabihf
        qemu=qemu-arm-static
        ;;
    *) echo "unknown target: $target" >&2; usage ;;
esac
cargo_target=${cargo_target:-$target}
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "== apt-get install ${need_apt[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${need_apt[@]}" >/dev/null
fi
if ! rustup target list --installed | grep -qx "$target"; then
    echo "== rustup target add $target"
    rustup target add "$target"
fi

if [ $zigbuild = 1 ]; then
    if [ ! -x "$zig_venv/bin/cargo-zigbuild" ]; then
        echo "== pip install ziglang cargo-zigbuild (venv $zig_venv)"
        python3 -m venv "$zig_venv"
        "$zig_venv/bin/pip" install -q "ziglang==0.17.1" "cargo-zigbuild==0.24.1"
    fi
    export PATH="$zig_venv/bin:$PATH"
    # cargo-zigbuild sets the linker itself; the runner comes from the environment (the
    # --config file would override zig's linker with gcc).
    export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUNNER=qemu-arm-static
    cargo_x() { local sub=$1; shift; [ "$sub" = build ] && sub=zigbuild; cargo-zigbuild "$sub" "$@"; }
else
    cargo_x() { cargo --config cross/cargo-config.toml "$@"; }
fi
read -r -a features <<<"${AGENT_FEATURES:-}"

if [ $do_release = 1 ]; then
    echo "== $target: release build of hashward-agent ${AGENT_FEATURES:-}"
    t0=$SECONDS
    cargo_x build --release --target "$cargo_target" -p hashward-agent "${features[@]}"
    if [ $with_hub = 1 ]; then
        cargo_x build --release --target "$cargo_target" -p hashward-hub
    fi
    bin="$CARGO_TARGET_DIR/$target/release/hashward-agent"
    bytes=$(stat -c %s "$bin")
    echo "== $target: hashward-agent $bytes bytes ($(awk "BEGIN{printf \"%.2f\", $bytes/1048576}") MiB, stripped) in $((SECONDS - t0)) s"
    file "$bin" 2>/dev/null | sed 's/^[^:]*: /   /' || true
    [ -z "${HASHWARD_SIZE_OUT:-}" ] || echo "$target ${AGENT_FEATURES:-default} $bytes" >>"$HASHWARD_SIZE_OUT"
    if [ "$target" = aarch64-unknown-linux-musl ] && [ "$bytes" -ge $((12 * 1024 * 1024)) ]; then
        echo "FAIL: aarch64 agent is $bytes bytes, budget is 12 MiB" >&2
        exit 1
    fi
    if [ -n "$qemu" ]; then
        # Smoke test of the shipped binary itself under emulation.
        "$qemu" "$bin" --version
    else
        "$bin" --version
    fi
fi

if [ $do_test = 1 ]; then
    # Programs the tests spawn (the agent binary via CARGO_BIN_EXE_*) are foreign executables:
    # they run through qemu only with binfmt_misc. Register qemu's handlers if the kernel lets us.
    if [ -n "$qemu" ]; then
        if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
            as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
        fi
        arch=${qemu#qemu-}
        arch=${arch%-static}
        if [ -e /proc/sys/fs/binfmt_misc/register ] && [ ! -e "/proc/sys/fs/binfmt_misc/qemu-$arch" ]; then
            as_root update-binfmts --enable "qemu-$arch" 2>/dev/null || true
        fi
        if [ ! -e "/proc/sys/fs/binfmt_misc/qemu-$arch" ]; then
            echo "FAIL: binfmt_misc has no qemu-$arch handler; the tests that spawn the agent cannot run" >&2
            exit 1
        fi
    fi
    # Skipped under emulation, each because it measures real hashing speed or relies on a
    # wall-clock budget sized for native code (qemu-user runs the kernels 10-50x slower and with
    # translation warm-up, so the figures mean nothing there). They run natively in .ci/run.
    skips=()
    if [ -n "$qemu" ]; then
        skips=(
            # Needs shares at a native hashrate within its timeouts (60 s mining run).
            --skip agent_mines_60s_with_disconnect_and_failover_and_no_rejects
            # Asserts the tuner's choice is >= 0.8 of the best measured hashrate.
            --skip tune_compares_its_search_with_an_exhaustive_sweep
            # Assumes a batch in flight finishes within 200 ms after pause; an emulated batch
            # can take longer.
            --skip a_new_job_replaces_the_old_one_and_pause_stops_hashing
        )
    fi
    echo "== $target: hashward-agent tests${qemu:+ under $qemu}"
    t0=$SECONDS
    cargo_x test --no-fail-fast --target "$cargo_target" -p hashward-agent "${features[@]}" -- "${skips[@]}"
    echo "== $target: tests done in $((SECONDS - t0)) s (skipped under qemu: $((${#skips[@]} / 2)))"
fi
