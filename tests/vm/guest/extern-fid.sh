# Issue #13 (fidelity II): twelve more VM-level fault schedules from our BMC,
# each on one Get Watchdog Timer, through QEMU's isa-ipmi-bt + ipmi-bmc-extern
# and Debian's kernel; check.py compares each with tests/vm/model/extern-fid.toml
# (BMC preset `qemu-extern`: QEMU's BT device and extern layer in the model).
# A probe is one ipmitool run (its own Get Device ID, then the raw Get
# Watchdog Timer the fault is aimed at, only=06:25); `bmcwd get` sends the
# Get Watchdog Timer alone. After each schedule `dmesg -c` collects its lines.
load_ipmi
run dmesg-init dmesg -c
probe() { run "$1" ipmitool raw 0x06 0x25; }
one() { # one TAG SPEC: fault SPEC on the next Get Watchdog Timer, probe, dmesg
    vmfault "$2 count=1 only=06:25"
    probe "$1"
    run "$1.dmesg" dmesg -c
}
probe base
one f-silent silent                 # QEMU's extern timer: 0xC3 after 4 s
one f-badsum bad-checksum           # QEMU drops it (no timer_del): 0xC3 after 4 s
one f-delay2 delay=2000             # answered in time: 0x00 after 2 s
one f-delay35 delay=3500            # just in time, the timer is cancelled
one f-delay6 delay=6000             # too late: 0xC3 at 4 s, the answer dropped
one f-cc cc=c1                      # the BMC's own completion code, passed up
one f-netfn wrong-netfn             # message handler: 0xFF, "incorrect response"
one f-cmd wrong-cmd                 # BT bad packet: RD_WAIT timeout, 0xC3 at 10 s
one f-stale stale                   # Get Device ID's answer with this seq: 0xC3 at 10 s
run s-prime bmcwd --device /dev/ipmi0 --json get
vmfault "stale count=1 only=06:25"
run f-stale-same bmcwd --device /dev/ipmi0 --json get   # old data, cc 0, at once
run f-stale-same.dmesg dmesg -c
one f-attn attn                     # ATTN_IRQ after the answer: Get Message Flags
probe f-attn.after
# Last: a new connection forgets the interrupt enable our server tracks.
one f-disc disconnect               # link closed with the request awaited: 0xD2
sleep 3                             # QEMU reconnects (reconnect=1)
probe f-disc.after
run dmesg-end dmesg -c
