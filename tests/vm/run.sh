#!/usr/bin/env bash
# bmcwd VM rig: our pieces against the real Linux kernel, under QEMU (TCG).
#
#   tests/vm/run.sh [SCENARIO...]     (default: all; see SCENARIOS below)
#
# NAME-patched runs scenario NAME on ipmi_si.ko built from the same Debian
# source with patches/ applied (the B-4 fix) instead of the stock module.
#
# Installs what it needs from Debian (qemu-system-x86, busybox-static,
# ipmitool, freeipmi-tools), downloads Debian's stock kernel package and
# extracts it (never installs it), builds a static bmcwd from this checkout
# (the guest's client, and on the host `bmcwd sim serve`, our simulated BMC
# behind sim::vmproto's VM-protocol server), packs an initramfs, boots one QEMU per scenario
# and checks the guest console (tests/vm/check.py). Ends with
# `vm-rig: N passed, M failed` and exits non-zero on any failure; a failed
# install or build is a failure, never a skip.
#
# Environment: VM_WORK (cache and logs, default /tmp/bmcwd-vm),
# VM_NO_INSTALL=1 (skip apt), CARGO_TARGET_DIR (default ROOT/target),
# VM_JOBS (scenarios booted at once, default 2), KSRC_CACHE (the kernel
# source, see tests/kernel-src/fetch.sh).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=${VM_WORK:-/tmp/bmcwd-vm}
LOGS=$WORK/logs
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
TRIPLE=x86_64-unknown-linux-gnu
JOBS=${VM_JOBS:-2}
# The -patched variants boot the same scenario on the patched ipmi_si.ko.
SCENARIOS=(extern-fault extern-reset qemu-sim qemu-leave qemu-daemon extern-basic extern-wdt
    extern-fault-patched extern-reset-patched extern-basic-patched extern-wdt-patched extern-fid
    extern-probe-busy extern-probe-busy-patched)
T_START=$(date +%s)

PASSED=0
FAILED=0
log() { echo "vm-rig: $*"; }
pass() { PASSED=$((PASSED + 1)); echo "PASS $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $*"; }
summary() {
    log "wall time $(($(date +%s) - T_START)) s; logs in $LOGS"
    echo "vm-rig: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
    exit $?
}
fatal() {
    fail "setup: $*"
    summary
}

mkdir -p "$WORK" "$LOGS" || fatal "cannot create $WORK"
# Scenario jobs (QEMU, servers) must not outlive an interrupted run.
trap 'kill $(jobs -p) 2>/dev/null' EXIT
rm -f "$LOGS"/*

# ---------------------------------------------------------------- packages --
# retry N CMD...: run CMD up to N times, 5 s apart (a registry hiccup is
# not a test failure; three in a row are).
retry() {
    local n=$1 i
    shift
    for i in $(seq 1 "$n"); do
        "$@" && return 0
        [ "$i" -lt "$n" ] && sleep 5
    done
    return 1
}

install_packages() {
    [ "${VM_NO_INSTALL:-0}" = 1 ] && return 0
    local pkgs=(qemu-system-x86 busybox-static ipmitool freeipmi-tools freeipmi-bmc-watchdog kmod patch)
    command -v python3 >/dev/null || pkgs+=(python3)
    log "apt-get install ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Every network step has a deadline: a stalled mirror fails the run
    # (loudly, with the log) instead of hanging CI.
    retry 3 timeout 600 apt-get update -q >"$LOGS/apt.log" 2>&1 || { cat "$LOGS/apt.log"; fatal "apt-get update failed"; }
    retry 3 timeout 900 apt-get install -y -q --no-install-recommends "${pkgs[@]}" \
        >>"$LOGS/apt.log" 2>&1 || { tail -30 "$LOGS/apt.log"; fatal "apt-get install ${pkgs[*]} failed"; }
}

# ---------------------------------------------------------------- kernel ----
fetch_kernel() {
    local pkg
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    [ -n "$pkg" ] || fatal "apt-cache depends linux-image-amd64 named no kernel package (run apt-get update?)"
    KDIR=$WORK/kernel/$pkg
    if [ ! -s "$KDIR/vmlinux" ]; then
        log "fetching $pkg"
        rm -rf "$KDIR" && mkdir -p "$KDIR" || fatal "mkdir $KDIR"
        (cd "$KDIR" && retry 3 timeout 600 apt-get download "$pkg" >"$LOGS/kernel-download.log" 2>&1) \
            || { cat "$LOGS/kernel-download.log"; fatal "apt-get download $pkg failed"; }
        dpkg-deb -x "$KDIR"/*.deb "$KDIR/x" || fatal "dpkg-deb -x $pkg failed"
        python3 "$HERE/extract-vmlinux.py" "$KDIR"/x/boot/vmlinuz-* "$KDIR/vmlinux.tmp" \
            || fatal "could not extract vmlinux from $pkg"
        mv "$KDIR/vmlinux.tmp" "$KDIR/vmlinux"
        rm -f "$KDIR"/*.deb
    fi
    KVER=$(basename "$(ls -d "$KDIR"/x/lib/modules/*)")
    log "kernel $pkg ($KVER)"
}

# ---------------------------------------------------------------- patched ---
# The patched ipmi_si.ko: Debian's source of the booted kernel
# (tests/kernel-src/fetch.sh, same package version), patches/*.patch applied,
# built out of tree against Debian's linux-headers-$KVER (+ linux-kbuild-X.Y,
# gcc-12 as Debian builds it) from the objects Debian's
# drivers/char/ipmi/Makefile lists for ipmi_si. Its vermagic must be the
# stock module's. Sets PATCHED_KO (empty if not built: the -patched
# scenarios then fail).
build_patched_module() {
    local series hdr src m stock vm_p vm_s p
    PATCHED_KO=
    series=$(echo "$KVER" | sed -nE 's/^([0-9]+\.[0-9]+)\..*/\1/p')
    hdr=/usr/src/linux-headers-$KVER
    if [ "${VM_NO_INSTALL:-0}" != 1 ]; then
        log "apt-get install linux-headers-$KVER linux-kbuild-$series"
        retry 3 timeout 900 apt-get install -y -q --no-install-recommends "linux-headers-$KVER" \
            "linux-kbuild-$series" >>"$LOGS/apt.log" 2>&1 \
            || { tail -30 "$LOGS/apt.log"; fatal "apt-get install linux-headers-$KVER linux-kbuild-$series failed"; }
    fi
    [ -f "$hdr/Makefile" ] || { fail "build: patched ipmi_si.ko: no $hdr (linux-headers-$KVER)"; return; }
    command -v gcc-12 >/dev/null || { fail "build: patched ipmi_si.ko: gcc-12 not found"; return; }
    src=$(timeout 1800 bash "$ROOT/tests/kernel-src/fetch.sh" 2>"$LOGS/kernel-src.log") \
        || { tail -20 "$LOGS/kernel-src.log"; fail "build: patched ipmi_si.ko: tests/kernel-src/fetch.sh failed"; return; }
    m=$WORK/kmod
    rm -rf "$m" && mkdir -p "$m/drivers/char" && cp -a "$src/drivers/char/ipmi" "$m/drivers/char/" \
        || { fail "build: patched ipmi_si.ko: copying $src/drivers/char/ipmi"; return; }
    for p in "$ROOT"/patches/0*.patch; do
        patch -d "$m" -p1 --fuzz=0 --no-backup-if-mismatch <"$p" >>"$LOGS/kmod-build.log" 2>&1 \
            || { tail -20 "$LOGS/kmod-build.log"; fail "build: patched ipmi_si.ko: $(basename "$p") does not apply"; return; }
    done
    # Kbuild (read before the Makefile): ipmi_si's objects as Debian's
    # Makefile lists them (its ipmi_si-y block, PCI/PARISC conditionals included).
    { sed -n '/^ipmi_si-y/,/^obj-/p' "$m/drivers/char/ipmi/Makefile" | grep -v '^obj-'
      echo 'obj-m := ipmi_si.o'; } >"$m/drivers/char/ipmi/Kbuild"
    grep -q '^ipmi_si-y' "$m/drivers/char/ipmi/Kbuild" \
        || { fail "build: patched ipmi_si.ko: no ipmi_si-y in Debian's drivers/char/ipmi/Makefile"; return; }
    log "building patched ipmi_si.ko against $hdr"
    timeout 900 make -C "$hdr" M="$m/drivers/char/ipmi" CC=gcc-12 modules >>"$LOGS/kmod-build.log" 2>&1 \
        || { tail -30 "$LOGS/kmod-build.log"; fail "build: patched ipmi_si.ko: make failed"; return; }
    stock=$(find "$KDIR/x/lib/modules" -name 'ipmi_si.ko*' | head -1)
    case $stock in
        *.ko) cp "$stock" "$m/ipmi_si.stock.ko" ;;
        *.ko.xz) xz -dc "$stock" >"$m/ipmi_si.stock.ko" ;;
        *.ko.zst) zstd -dqc "$stock" >"$m/ipmi_si.stock.ko" ;;
    esac
    vm_p=$(modinfo -F vermagic "$m/drivers/char/ipmi/ipmi_si.ko" 2>/dev/null)
    vm_s=$(modinfo -F vermagic "$m/ipmi_si.stock.ko" 2>/dev/null)
    if [ -n "$vm_p" ] && [ "$vm_p" = "$vm_s" ] && [ "${vm_p%% *}" = "$KVER" ]; then
        pass "build: patched ipmi_si.ko ($(cd "$ROOT/patches" && ls 0*.patch | tr '\n' ' ')on $(basename "$(dirname "$src")")), vermagic '$vm_p' == stock"
    else
        fail "build: patched ipmi_si.ko: vermagic '$vm_p' != stock '$vm_s' (kernel $KVER)"
        return
    fi
    PATCHED_KO=$m/drivers/char/ipmi/ipmi_si.ko
    md5sum "$PATCHED_KO" | cut -d' ' -f1 >"$LOGS/ipmi_si-patched.md5"
}

# ---------------------------------------------------------------- builds ----
build_rust() {
    # Debug profile without debug info: compiles in about half the time of a
    # release build and is plenty fast for a handful of commands. Override
    # with VM_PROFILE=release.
    local profile=${VM_PROFILE:-dev} dir
    # `parity` compares bmcwd with the tools operators use: it runs the
    # size-optimised build for installing (profile `dist` in Cargo.toml),
    # unless VM_PROFILE says otherwise.
    case " ${selected[*]} " in *" parity "*) profile=${VM_PROFILE:-dist} ;; esac
    [ "$profile" = dev ] && dir=debug || dir=$profile
    log "building static bmcwd (profile $profile, $TRIPLE, +crt-static)"
    BMCWD=$TARGET_DIR/$TRIPLE/$dir/bmcwd
    export BMCWD
    if (cd "$ROOT" && RUSTFLAGS="-C target-feature=+crt-static" CARGO_PROFILE_DEV_DEBUG=0 \
        CARGO_TARGET_DIR=$TARGET_DIR cargo build -q --profile "$profile" -p bmcwd --target $TRIPLE) \
        >"$LOGS/build-bmcwd.log" 2>&1 && "$BMCWD" --version >/dev/null; then
        pass "build: bmcwd (static, runs on host and guest)"
    else
        tail -30 "$LOGS/build-bmcwd.log"
        fail "build: bmcwd did not build; every check that needs it will fail"
        BMCWD=
    fi
}

# ---------------------------------------------------------------- initramfs -
copy_with_libs() { # copy_with_libs BIN DEST_ROOT: the binary and what ldd lists
    local bin=$1 dst=$2 lib
    install -D -m 755 "$bin" "$dst$bin" || return 1
    for lib in $(ldd "$bin" 2>/dev/null | awk '/=> \// {print $3} /^\t\/lib/ {print $1}'); do
        [ -e "$dst$lib" ] || install -D -m 755 "$lib" "$dst$lib" || return 1
    done
}

build_initramfs() {
    local r=$WORK/initramfs-root m
    rm -rf "$r" && mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,lib/modules/ipmi,vmtests,etc} \
        || fatal "mkdir $r"
    install -m 755 "$(command -v busybox)" "$r/bin/busybox" || fatal "busybox-static missing"
    file -L "$r/bin/busybox" 2>/dev/null | grep -q 'dynamically' && fatal "busybox is not static"
    for m in ipmi_msghandler ipmi_devintf ipmi_si ipmi_watchdog; do
        m=$(find "$KDIR/x/lib/modules" -name "$m.ko*" | head -1)
        [ -n "$m" ] || fatal "kernel package has no $m"
        case $m in
            *.ko) cp "$m" "$r/lib/modules/ipmi/" ;;
            *.ko.xz) xz -dc "$m" >"$r/lib/modules/ipmi/$(basename "${m%.xz}")" ;;
            *.ko.zst) zstd -dqc "$m" >"$r/lib/modules/ipmi/$(basename "${m%.zst}")" ;;
            *) fatal "unknown module compression: $m" ;;
        esac
    done
    if [ -n "${PATCHED_KO:-}" ]; then
        install -D -m 644 "$PATCHED_KO" "$r/lib/modules/ipmi-patched/ipmi_si.ko" || fatal "copying $PATCHED_KO"
    fi
    copy_with_libs "$(command -v ipmitool)" "$r" || fatal "copying ipmitool"
    copy_with_libs "$(command -v bmc-info)" "$r" || fatal "copying bmc-info (freeipmi-tools)"
    # freeipmi's bmc-watchdog, for the `parity` scenario's side-by-side figures.
    if command -v bmc-watchdog >/dev/null; then
        copy_with_libs "$(command -v bmc-watchdog)" "$r" || fatal "copying bmc-watchdog"
    fi
    mkdir -p "$r/etc/freeipmi" && : >"$r/etc/freeipmi/freeipmi.conf"
    [ -f /usr/share/misc/enterprise-numbers.txt ] \
        && install -D -m 644 /usr/share/misc/enterprise-numbers.txt "$r/usr/share/misc/enterprise-numbers.txt"
    if [ -n "${BMCWD:-}" ]; then
        install -m 755 "$BMCWD" "$r/usr/bin/bmcwd" || fatal "copying bmcwd"
    fi
    # The Debian package's other files where the .deb puts them (unit, man
    # pages, completions, /etc/bmcwd/bmcwd.toml): the guest's daemon runs
    # from the packaged configuration (guest/qemu-daemon.sh).
    python3 "$HERE/deb-assets.py" "$ROOT/cli" "$r" >"$LOGS/deb-assets.log" 2>&1 \
        || { cat "$LOGS/deb-assets.log"; fatal "installing the package's files"; }
    install -m 755 "$HERE/guest/init" "$r/init" || fatal "copying init"
    cp "$HERE"/guest/*.sh "$HERE"/guest/*.steps "$r/vmtests/" || fatal "copying guest scenarios"
    INITRD=$WORK/initramfs.cpio.gz
    (cd "$r" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$INITRD.tmp" \
        || fatal "packing the initramfs"
    mv "$INITRD.tmp" "$INITRD"
    log "initramfs $(du -h "$INITRD" | cut -f1)"
}

# ---------------------------------------------------------------- running ---
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# boot NAME TIMEOUT_S QEMU_BMC_ARGS...: boot the guest with vmtest=NAME
# (NAME-patched: the guest loads the patched ipmi_si.ko, guest/lib.sh).
# With FAULT_FILE set, a watcher copies each `VMT-FAULT spec` line the guest
# prints into that file (bmcwd sim serve --fault-file), so the guest decides
# when our BMC misbehaves.
boot() {
    local name=$1 tmo=$2 rc t0 qpid
    shift 2
    t0=$(date +%s%N)
    : >"$LOGS/$name.console"
    timeout --kill-after=5 "$tmo" qemu-system-x86_64 -accel tcg -machine pc -m 256M -smp 1 \
        -nographic -no-reboot -nic none -kernel "$KDIR/vmlinux" -initrd "$INITRD" \
        -append "console=ttyS0 panic=-1 loglevel=3 printk.time=1 vmtest=$name" \
        "$@" </dev/null >"$LOGS/$name.console" 2>"$LOGS/$name.qemu-stderr" &
    qpid=$!
    if [ -n "${FAULT_FILE:-}" ]; then
        tail -n +1 -F --pid=$qpid "$LOGS/$name.console" 2>/dev/null |
            while IFS= read -r line; do
                line=${line%$'\r'}
                case $line in
                    # Atomic (rename): the server polls the file and must
                    # never read it empty (= none, which releases a held answer).
                    "VMT-FAULT "*) printf '%s\n' "${line#VMT-FAULT }" >"$FAULT_FILE.new" \
                        && mv -f "$FAULT_FILE.new" "$FAULT_FILE" ;;
                esac
            done &
    fi
    wait $qpid
    rc=$?
    echo "qemu_rc=$rc wall_ms=$((($(date +%s%N) - t0) / 1000000))" >"$LOGS/$name.meta"
    return 0
}

# start_bmc NAME ARGS...: `bmcwd sim serve` (our simulated BMC behind
# sim::vmproto's server) on a free port; sets BMC_PORT, BMC_PID, FAULT_FILE.
start_bmc() {
    local name=$1 i
    shift
    [ -n "$BMCWD" ] || return 1
    BMC_PORT=$(free_port)
    FAULT_FILE=$WORK/$name.fault
    echo none >"$FAULT_FILE"
    "$BMCWD" sim serve --vm-listen "127.0.0.1:$BMC_PORT" --fault-file "$FAULT_FILE" --verbose "$@" \
        >"$LOGS/$name.bmc.log" 2>&1 &
    BMC_PID=$!
    for i in $(seq 1 100); do
        grep -q 'listening' "$LOGS/$name.bmc.log" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
stop_bmc() { [ -n "${BMC_PID:-}" ] && kill "$BMC_PID" 2>/dev/null; wait "$BMC_PID" 2>/dev/null; BMC_PID=; }

extern_args() {
    echo "-chardev socket,id=ipmi0,host=127.0.0.1,port=$BMC_PORT,reconnect=1" \
        "-device ipmi-bmc-extern,chardev=ipmi0,id=bmc0 -device isa-ipmi-bt,bmc=bmc0"
}

# Our simulated BMC in the extern scenarios: the default preset (IPMI-spec
# watchdog; identity device 0x20, firmware 1.23, product 0x0bc1), which
# check.py asserts the guest reads.
SIM_ARGS=(--bmc default)

# One function per scenario: boot, then leave logs for check.py.
scn_qemu_sim() { boot "${1:-qemu-sim}" 120 -device ipmi-bmc-sim,id=bmc0 -device isa-ipmi-bt,bmc=bmc0; }
scn_qemu_leave() { boot "${1:-qemu-leave}" 90 -device ipmi-bmc-sim,id=bmc0 -device isa-ipmi-bt,bmc=bmc0; }
scn_qemu_daemon() { boot "${1:-qemu-daemon}" 120 -device ipmi-bmc-sim,id=bmc0 -device isa-ipmi-bt,bmc=bmc0; }
# The extern scenarios take the run name (default: their own; NAME-patched
# for the patched module).
extern_scn() { # extern_scn NAME TIMEOUT_S
    start_bmc "$1" "${SIM_ARGS[@]}" || { echo "bmc server did not start" >"$LOGS/$1.meta"; return; }
    # shellcheck disable=SC2046
    boot "$1" "$2" $(extern_args)
    stop_bmc
}
scn_extern_basic() { extern_scn "${1:-extern-basic}" 90; }
scn_extern_wdt() { extern_scn "${1:-extern-wdt}" 90; }
scn_extern_fault() { extern_scn "${1:-extern-fault}" 180; }
scn_extern_reset() { extern_scn "${1:-extern-reset}" 150; }
# Its own guest script and checks (the schedule differs from extern-reset's
# where the patched kernel no longer sends a Warm Reset).
scn_extern_reset_patched() { extern_scn extern-reset-patched 150; }

# F-1 (spec-notes/si-findings.md): B_BUSY held on the probe's Get Device ID;
# stock waits out the hold, patched (0005) fails the probe at once.
scn_extern_probe_busy() { extern_scn "${1:-extern-probe-busy}" 150; }

# Issue #13: twelve more VM-level fault schedules (model/extern-fid.toml).
scn_extern_fid() { extern_scn "${1:-extern-fid}" 240; }

# Issue #14, on demand (`tests/vm/run.sh parity`; not in SCENARIOS: it needs
# a release build): bmcwd against bmc-watchdog and ipmitool in one boot.
scn_parity() { boot "${1:-parity}" 240 -device ipmi-bmc-sim,id=bmc0 -device isa-ipmi-bt,bmc=bmc0; }

# ---------------------------------------------------------------- main ------
install_packages
for tool in qemu-system-x86_64 busybox ipmitool bmc-info cargo python3 dpkg-deb apt-get; do
    command -v "$tool" >/dev/null || fatal "$tool not found after install"
done
fetch_kernel
selected=("$@")
[ ${#selected[@]} -eq 0 ] && selected=("${SCENARIOS[@]}")
# scn_fn NAME: the function that runs scenario NAME (NAME-patched without a
# function of its own: the base scenario's, given NAME).
scn_fn() {
    local fn="scn_${1//-/_}" base="scn_${1%-patched}"
    base=${base//-/_}
    if declare -F "$fn" >/dev/null; then echo "$fn"
    elif [ "$1" != "${1%-patched}" ] && declare -F "$base" >/dev/null; then echo "$base"
    fi
}
case " ${selected[*]} " in *-patched\ *) build_patched_module ;; esac
build_rust
build_initramfs

running=0
for s in "${selected[@]}"; do
    fn=$(scn_fn "$s")
    [ -n "$fn" ] || { fail "no scenario '$s' (have: ${SCENARIOS[*]} parity)"; continue; }
    log "scenario $s"
    "$fn" "$s" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

for s in "${selected[@]}"; do
    [ -n "$(scn_fn "$s")" ] || continue
    while IFS= read -r line; do
        case $line in
            PASS\ *) pass "${line#PASS }" ;;
            FAIL\ *) fail "${line#FAIL }" ;;
            *) echo "$line" ;;
        esac
    done < <(python3 "$HERE/check.py" "$s" "$LOGS" "$ROOT" 2>&1 || echo "FAIL $s: check.py crashed")
done
summary
