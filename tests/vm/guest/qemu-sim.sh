# Check (a): bmcwd on the real /dev/ipmi0 against QEMU's own emulated BMC
# (-device ipmi-bmc-sim), compared field by field with ipmitool (check.py).
load_ipmi
W="bmcwd --device /dev/ipmi0"
# step TAG CMD...: run a bmcwd command, then read the watchdog both ways.
step() {
    local tag=$1
    shift
    run "$tag" "$@"
    run "$tag.ipmitool" ipmitool mc watchdog get
    run "$tag.bmcwd" $W --json get
    run "$tag.text" $W get
}
step initial true
step set $W set --timeout 42.5s --use os-load --action power-down --pretimeout 5s --pretimeout-irq msg --dont-log
step set2 $W set --timeout 300s --use sms-os --action none --pretimeout-irq none --pretimeout 0s --clear-flags all
step start $W start --timeout 30s --action hard-reset
step reset $W reset
step stop $W stop
step start-nmi $W start --timeout 120s --action power-down --pretimeout 10s --pretimeout-irq nmi
# QEMU's BMC refuses power cycle with 0xCC: bmcwd must say so, by name.
run refused $W start --timeout 60s --action power-cycle
step stop2 $W off
run ipmitool-reset ipmitool mc watchdog reset
run ipmitool-off ipmitool mc watchdog off
run wd-after-off $W --json get

# The daemon keeps the guest alive past the timeout; SIGKILL lets the BMC
# reset the guest (QEMU exits because of -no-reboot).
$W daemon --timeout 8s --interval 2s --action hard-reset > /tmp/daemon.log 2>&1 &
dpid=$!
say "daemon: started pid $dpid at $(uptime_s)"
sleep 14
if kill -0 $dpid 2>/dev/null; then say "daemon: alive at $(uptime_s)"; else fail "daemon: exited early"; fi
run daemon-running.bmcwd $W --json get
run daemon-log cat /tmp/daemon.log
say "daemon: survived past timeout at $(uptime_s)"
kill -9 $dpid
say "daemon: SIGKILL at $(uptime_s); expecting a BMC hard reset within 8 s"
sleep 30
say "daemon: STILL ALIVE 30 s after SIGKILL at $(uptime_s)"
