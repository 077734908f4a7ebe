# F-1 (spec-notes/si-findings.md) on the real kernel: our BMC holds B_BUSY
# on the probe's Get Device ID (`stuck count=1 only=06:01 hold=30000`, set
# before ipmi_si is loaded). QEMU's BT caps say 0 retries, so the attempt
# times out after 10 s into LONG_BUSY with 0xC0, try_get_dev_id retries and
# the state machine refuses the retry.
# Stock (extern-probe-busy): wait_for_msg_done waits for the refused retry
# until our BMC lets go 30 s after the hit; insmod takes ~30 s, then "BMC
# returned 0xff" (the forced result) and a third try that works.
# Patched (extern-probe-busy-patched, patches/0005): the refused retries
# complete with 0xC0 at once, the probe fails at ~10 s ("There appears to be
# no BMC at this location") and no /dev/ipmi0 appears.
# check.py compares the kernel's lines and insmod's duration with
# model/extern-probe-busy.toml (mainline) / -patched.toml (fixed-b8).
for m in ipmi_msghandler ipmi_devintf; do
    insmod /lib/modules/ipmi/$m.ko || fail "insmod: $m"
done
ko=/lib/modules/ipmi/ipmi_si.ko
if [ "${VM_IPMI_SI:-stock}" = patched ]; then
    ko=/lib/modules/ipmi-patched/ipmi_si.ko
    say "ipmi: patched ipmi_si.ko md5 $(md5sum "$ko" | cut -d' ' -f1)"
fi
run dmesg-init dmesg -c
vmfault "stuck count=1 only=06:01 hold=30000"
run probe insmod "$ko"
i=0
while [ ! -c /dev/ipmi0 ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done
if [ -c /dev/ipmi0 ]; then
    say "ipmi: /dev/ipmi0 at uptime $(uptime_s)"
    run after ipmitool raw 0x06 0x01
else
    say "ipmi: no /dev/ipmi0"
fi
run probe-dmesg dmesg -c
