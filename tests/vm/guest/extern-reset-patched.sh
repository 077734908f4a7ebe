# Check (d) on the patched ipmi_si.ko (patches/, the B-4 fix; /init loads it
# for every NAME-patched scenario): the outage of extern-reset.sh, without
# the loop.
#
# Steps 1 and 3 as in extern-reset.sh: LONG_BUSY on a Get Watchdog Timer,
# then a bmcwd get 2 s into what was the reset loop. Step 2: our BMC keeps
# B_BUSY on the event check's Get BMC Global Enables (seq 0, the first
# message after LONG_BUSY) for 21 s, as long as it stayed busy in
# extern-reset (there the answer to the second Warm Reset ended it; the
# patched kernel sends none, so the fault ends by time: hold=21000). The
# patch promises "1 retries left", "failed 2 retries" and no "BT reset": the
# message fails with 0xC0 (the SI layer's "Couldn't get irq info: c0,"),
# the state machine waits in LONG_BUSY and carries on when B_BUSY drops.
# check.py compares it with model/extern-reset-patched.toml (bt-sm
# `fixed-reset`).
load_ipmi
run dmesg-init dmesg -c
probe() { run "$1" ipmitool raw 0x06 0x25; }
probe base
vmfault "stuck count=1 only=06:25 hold=13000"
probe r-busy
vmfault "stuck count=1 hold=21000"
sleep 3.7
run r-loop bmcwd --device /dev/ipmi0 --cmd-timeout 60s --json get
run r-dmesg dmesg -c
probe r-after
run r-dmesg2 dmesg -c
