# Check (b, part 2): the watchdog of our simulated BMC expires in real time behind
# QEMU and resets the guest through the VM protocol's RESET control command.
load_ipmi
# Set Watchdog Timer: SMS/OS, hard reset, no pre-timeout, 5.0 s; then Reset.
run arm-set ipmitool raw 0x06 0x24 0x04 0x01 0x00 0x00 0x32 0x00
run arm-reset ipmitool mc watchdog reset
run armed ipmitool mc watchdog get
say "wdt: armed at $(uptime_s); expecting our BMC to reset the guest within 5 s"
sleep 30
say "wdt: STILL ALIVE 30 s after arming, at $(uptime_s)"
