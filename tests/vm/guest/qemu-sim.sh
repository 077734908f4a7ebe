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
# The steps are shared with check.py (replayed against our QEMU model).
grep -v '^#' /vmtests/qemu-sim.steps | while IFS='|' read -r tag args; do
    # shellcheck disable=SC2086
    step "$tag" $W $args
done
run ipmitool-reset ipmitool mc watchdog reset
run ipmitool-off ipmitool mc watchdog off
run wd-after-off $W --json get

# SIGTERM: the daemon disarms the timer on its way out (--on-exit stop).
$W daemon --timeout 20s --interval 1s --action hard-reset > /tmp/daemon-term.log 2>&1 &
dpid=$!
sleep 3
run term-armed.bmcwd $W --json get
kill -TERM $dpid
wait $dpid
say "daemon-term: exit status $?"
run term-after.bmcwd $W --json get
run term-log cat /tmp/daemon-term.log

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
