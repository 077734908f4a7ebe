# Check (a, part 2): `bmcwd daemon --on-exit leave` exits on SIGTERM with the
# timer still armed, so QEMU's BMC resets the guest.
load_ipmi
W="bmcwd --device /dev/ipmi0"
$W daemon --timeout 6s --interval 1s --action hard-reset --on-exit leave > /tmp/daemon.log 2>&1 &
dpid=$!
sleep 9
if kill -0 $dpid 2>/dev/null; then say "leave: daemon alive past its 6 s timeout at $(uptime_s)"; fi
kill -TERM $dpid
wait $dpid
say "leave: daemon exit status $? at $(uptime_s); expecting a BMC hard reset within 6 s"
run daemon-log cat /tmp/daemon.log
sleep 30
say "leave: STILL ALIVE 30 s after the daemon left, at $(uptime_s)"
