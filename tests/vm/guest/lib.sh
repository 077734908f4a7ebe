# Helpers for guest scenarios (sourced by /init). Output protocol, parsed by
# tests/vm/check.py on the host:
#   VMT: text                         free text
#   VMT-BEGIN tag                     start of a captured command's output
#   VMT-END tag rc=N t0=S t1=S        its exit code and guest uptime before/after
#   VMT-FAIL tag: reason              a check that failed inside the guest
say() { echo "VMT: $*"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
# run TAG CMD...: run CMD, capture stdout+stderr between markers.
run() {
    local tag=$1 t0 t1 rc
    shift
    t0=$(uptime_s)
    echo "VMT-BEGIN $tag"
    "$@" 2>&1
    rc=$?
    t1=$(uptime_s)
    echo "VMT-END $tag rc=$rc t0=$t0 t1=$t1"
    return $rc
}
fail() { echo "VMT-FAIL $*"; }
# load_ipmi [extra modules...]: the IPMI stack, then wait for /dev/ipmi0.
# With VM_IPMI_SI=patched (set by /init for NAME-patched) ipmi_si.ko is the
# one built with patches/ (tests/vm/run.sh build_patched_module); its md5 is
# printed for check.py.
load_ipmi() {
    for m in ipmi_msghandler ipmi_devintf ipmi_si "$@"; do
        ko=/lib/modules/ipmi/$m.ko
        if [ "$m" = ipmi_si ] && [ "${VM_IPMI_SI:-stock}" = patched ]; then
            ko=/lib/modules/ipmi-patched/ipmi_si.ko
            [ -f "$ko" ] || { fail "insmod: no patched ipmi_si.ko in the initramfs"; continue; }
            say "ipmi: patched ipmi_si.ko md5 $(md5sum "$ko" | cut -d' ' -f1)"
        fi
        insmod "$ko" || fail "insmod: $m"
    done
    i=0
    while [ ! -c /dev/ipmi0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
    [ -c /dev/ipmi0 ] || fail "dev: /dev/ipmi0 did not appear"
    say "ipmi: /dev/ipmi0 at uptime $(uptime_s)"
}
# hexbytes TEXT: TEXT as ipmitool raw arguments (0xNN ...).
hexbytes() { printf '%s' "$1" | od -An -tx1 | tr -s ' \n' ' ' | sed 's/ \([0-9a-f][0-9a-f]\)/ 0x\1/g'; }
# vmfault SPEC: ask the host to switch our BMC's VM-level fault
# (sim/src/vmproto/fault.rs syntax). run.sh copies the line into the file
# given to `bmcwd sim serve --fault-file`, which the server polls every 50 ms.
vmfault() { echo "VMT-FAULT $1"; sleep 1.5; }
dump_dmesg() { run dmesg dmesg; }
