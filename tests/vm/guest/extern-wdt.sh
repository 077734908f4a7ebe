# Check (b, part 2): the watchdog of our simulated BMC runs in real time
# behind QEMU: its NMI pre-timeout reaches the guest through the VM
# protocol's SEND_NMI, and its expiry resets the guest through RESET.
load_ipmi
# Set Watchdog Timer: SMS/OS; action hard reset | pre-timeout NMI (0x21);
# pre-timeout 3 s; countdown 6.0 s. Then Reset starts it.
run arm-set ipmitool raw 0x06 0x24 0x04 0x21 0x03 0x00 0x3c 0x00
run arm-reset ipmitool mc watchdog reset
run armed ipmitool mc watchdog get
say "wdt: armed at $(uptime_s); expecting an NMI after 3 s and a reset after 6 s"
sleep 30
say "wdt: STILL ALIVE 30 s after arming, at $(uptime_s)"
