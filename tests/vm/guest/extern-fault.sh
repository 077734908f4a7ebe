# Check (c): VM-level faults from our BMC, seen by the guest's real BT driver.
# Each fault is switched by the guest (vmfault: a console line the host
# copies into the server's fault file) and hits exactly one Get Watchdog Timer; the BT log lines each
# produces are collected with `dmesg -c` for check.py to compare with the
# bt-sm model's prediction.
load_ipmi
run dmesg-init dmesg -c
# A probe is one ipmitool run: ipmitool sends its own Get Device ID first,
# then the raw Get Watchdog Timer the faults aim at (only=06:25).
probe() { run "$1" ipmitool raw 0x06 0x25; }
probe base
for f in silent wrong-cmd; do
    vmfault "$f count=1 only=06:25"
    probe "f-$f"
    probe "f-$f.after"
    run "f-$f.dmesg" dmesg -c
done
# B_BUSY stays set until the held answer comes, 16 s after the fault hit:
# the first request fails after the BT timeout, the next ones at once
# (LONG_BUSY); after the late answer requests work again.
for f in wrong-msgid stuck; do
    vmfault "$f count=1 only=06:25 hold=16000"
    probe "f-$f"
    probe "f-$f.busy"
    sleep 8
    probe "f-$f.after"
    probe "f-$f.after2"
    run "f-$f.dmesg" dmesg -c
done
run irqs cat /proc/interrupts
