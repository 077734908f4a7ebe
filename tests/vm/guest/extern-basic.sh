# Check (b): our simulated BMC, served by the VM server over TCP, behind the
# guest's real ipmi_si + ipmi_bt_sm.c + ipmi_watchdog.
load_ipmi ipmi_watchdog
run dmesg-init dmesg
run mc-info ipmitool mc info
run raw-devid ipmitool raw 0x06 0x01
run bmc-info bmc-info --driver-type=OPENIPMI --driver-device=/dev/ipmi0 --get-device-id
run wd-get ipmitool mc watchdog get
run bmcwd-get bmcwd --device /dev/ipmi0 --json get
run bmcwd-start bmcwd --device /dev/ipmi0 start --timeout 100s --action none
run wd-get2 ipmitool mc watchdog get
run bmcwd-stop bmcwd --device /dev/ipmi0 stop
run wd-get3 ipmitool mc watchdog get
