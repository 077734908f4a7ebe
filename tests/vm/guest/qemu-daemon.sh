# Issue #12 on the real /dev/ipmi0 (QEMU's built-in BMC): bmcwd's daemon
# notices `ipmitool mc watchdog off` from another process and re-arms;
# re-reads its configuration on SIGHUP (unchanged here); rides out unloading and reloading ipmi_si (re-opens the
# device); stops the timer on SIGUSR1 (on-exit = "stop" in the packaged
# /etc/bmcwd/bmcwd.toml) and the guest lives on.
load_ipmi
W="bmcwd --device /dev/ipmi0"
# Installed as the Debian package installs it (tests/vm/deb-assets.py): the
# default configuration /etc/bmcwd/bmcwd.toml passes --check, and the daemon
# below takes its device (and on-exit, action) from it; the flags override
# the rest for a short test.
run packaged-check bmcwd daemon --check
bmcwd --cmd-timeout 2s daemon --timeout 10s --interval 2s --max-backoff 1s > /tmp/daemon.log 2>&1 &
dpid=$!
sleep 3
run wd-off ipmitool mc watchdog off
sleep 5
run after-off.bmcwd $W --json get
kill -HUP $dpid
sleep 2
if kill -0 $dpid 2>/dev/null; then say "daemon: alive after SIGHUP at $(uptime_s)"; fi
# The daemon's open /dev/ipmi0 holds a user of the interface, which pins
# ipmi_si: the kernel refuses the unload (busybox rmmod: EAGAIN).
if rmmod ipmi_si 2>/tmp/rmmod.err; then
    say "daemon: rmmod ipmi_si succeeded at $(uptime_s)"
    sleep 2
    insmod /lib/modules/ipmi/ipmi_si.ko || fail "insmod: ipmi_si (again)"
else
    say "daemon: rmmod ipmi_si refused: $(cat /tmp/rmmod.err)"
    # Take the interface away and back without unloading: ipmi_si's hotmod.
    echo "remove,bt,i/o,0xe4" > /sys/module/ipmi_si/parameters/hotmod || fail "hotmod: remove"
    i=0
    while [ -c /dev/ipmi0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
    say "daemon: BT interface removed (hotmod) at $(uptime_s); /dev: $(ls /dev | grep ipmi | tr '\n' ' ')"
    sleep 2
    echo "add,bt,i/o,0xe4,irq=5" > /sys/module/ipmi_si/parameters/hotmod || fail "hotmod: add"
fi
i=0
while [ ! -c /dev/ipmi0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
say "daemon: interface back at $(uptime_s); /dev: $(ls /dev | grep ipmi | tr '\n' ' ')"
sleep 6
if kill -0 $dpid 2>/dev/null; then say "daemon: alive after the reload at $(uptime_s)"; fi
run after-reload.bmcwd $W --json get
kill -USR1 $dpid
wait $dpid
say "daemon: exit status $? after SIGUSR1 at $(uptime_s)"
run after-usr1.bmcwd $W --json get
run daemon-log cat /tmp/daemon.log
sleep 15
say "daemon: guest alive 15 s after the stop at $(uptime_s)"
