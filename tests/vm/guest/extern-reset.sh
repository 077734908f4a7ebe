# Check (d): the real kernel's BT reset (error_recovery's reset branch) and
# one more turn of the B-4 reset loop, against our BMC.
#
# QEMU answers Get BT Capabilities itself (10 s, 0 retries), so the reset
# branch (seq <= retries) is out of reach at first. Leaving LONG_BUSY runs
# bt_init_data: seq back to 0, caps back to the defaults (5 s, 2 retries).
# The first message after that is the SI layer's event check (Get BMC Global
# Enables, seq 0), pending since the 10 s ipmitool run that asked for events
# (kernel-vs-model.md D3). Our BMC keeps B_BUSY on it and on the first Warm
# Reset (RESET2) and answers the second: "1 retries left", "failed 2
# retries", "BT reset", 6 s hold-off, "failed 2 retries", "BT reset", 6 s,
# then the message goes through. A user request sent during the loop waits
# behind it: bmcwd (no event registration, and a 60 s command timeout where
# ipmitool gives up after 15 s). check.py compares all of it with
# model/extern-reset.toml.
load_ipmi
run dmesg-init dmesg -c
# One ipmitool run: its own Get Device ID, then the raw Get Watchdog Timer.
probe() { run "$1" ipmitool raw 0x06 0x25; }
probe base
# LONG_BUSY: B_BUSY held on the Get Watchdog Timer until 13 s after it.
vmfault "stuck count=1 only=06:25 hold=13000"
probe r-busy
# Armed while LONG_BUSY refuses everything: nothing reaches the BMC until
# B_BUSY drops, so the next two messages it gets are the event check's Get
# BMC Global Enables and the first Warm Reset.
vmfault "stuck count=2"
# The loop starts when the held answer drops B_BUSY (13 s after the fault
# hit, about 1.7 s from here); ask something 2 s into it.
sleep 3.7
run r-loop bmcwd --device /dev/ipmi0 --cmd-timeout 60s --json get
run r-dmesg dmesg -c
probe r-after
