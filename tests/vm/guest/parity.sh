# Issue #14: bmcwd side by side with the tools operators use, in one boot, on
# the real /dev/ipmi0 (QEMU's own BMC behind the stock BT driver):
#  * N `get`s each of `bmcwd get`, freeipmi's `bmc-watchdog -g` and
#    `ipmitool mc watchdog get`, interleaved (guest uptime around each call);
#  * each daemon's memory 10 s after it started (smaps_rollup Rss, and Pss):
#    `bmc-watchdog -d` and `bmcwd daemon` with the same timer (SMS/OS, hard
#    reset, 60 s, pet every 20 s), one after the other; bmcwd's again at
#    25 s, after its first pet.
# check.py (scn_parity) prints the figures and checks bmcwd is not slower nor
# bigger.
load_ipmi
mkdir -p /var/log/freeipmi /var/run /var/lib/freeipmi
N=30
BW="bmc-watchdog --driver-type=OPENIPMI --driver-device=/dev/ipmi0"
# call TAG CMD...: one timed call (guest uptime before and after, 10 ms
# resolution); check.py sums them per tool.
call() {
    local tag=$1 t0 t1 rc
    shift
    t0=$(uptime_s)
    "$@" >/dev/null 2>&1
    rc=$?
    t1=$(uptime_s)
    say "parity: call $tag rc=$rc t0=$t0 t1=$t1"
}
run bmcwd-get.once bmcwd --device /dev/ipmi0 get
run bmc-watchdog-get.once $BW -g
run ipmitool-get.once ipmitool mc watchdog get
# Interleaved call by call, so a slow spell of the host hits every tool alike.
i=0
while [ $i -lt $N ]; do
    call bmcwd-get bmcwd --device /dev/ipmi0 get
    call bmc-watchdog-get $BW -g
    call ipmitool-get ipmitool mc watchdog get
    i=$((i + 1))
done
# mem TAG PID: the process's Rss and Pss in kB.
mem() {
    if [ -r "/proc/$2/smaps_rollup" ]; then
        rss=$(awk '/^Rss:/ {print $2}' "/proc/$2/smaps_rollup")
        pss=$(awk '/^Pss:/ {print $2}' "/proc/$2/smaps_rollup")
        say "parity: mem $1 rss_kb=$rss pss_kb=$pss"
    else
        fail "parity: no /proc/$2/smaps_rollup for $1"
    fi
}
# -W ignorestateflag: QEMU's running bit echoes the last Set's don't-stop,
# so without it bmc-watchdog -d reads "stopped" after its own arming Set and
# exits ("timer stopped by another process").
$BW -d -W ignorestateflag -u 4 -p 0 -a 1 -i 60 -e 20
sleep 10
# The daemon forks twice; the process left running is the one ps lists.
run bw-ps ps
run bw-log cat /var/log/freeipmi/bmc-watchdog.log
bwpid=$(pidof bmc-watchdog | cut -d' ' -f1)
[ -n "$bwpid" ] || bwpid=$(ps | awk '/[b]mc-watchdog/ {print $1; exit}')
say "parity: bmc-watchdog daemon pid ${bwpid:-none}"
[ -n "$bwpid" ] && mem bmc-watchdog "$bwpid"
run bw-daemon-get bmcwd --device /dev/ipmi0 --json get
kill -TERM $bwpid 2>/dev/null
sleep 3
bmcwd --device /dev/ipmi0 daemon --timeout 60s --interval 20s --action hard-reset \
    > /tmp/bmcwd-daemon.log 2>&1 &
dpid=$!
sleep 10
mem bmcwd "$dpid"
# Again after its first pet (at 20 s): the loop's own pages.
sleep 15
mem bmcwd-after-pet "$dpid"
run bmcwd-daemon-get bmcwd --device /dev/ipmi0 --json get
kill -TERM $dpid
wait $dpid
say "parity: bmcwd daemon exit status $?"
run bmcwd-daemon-log cat /tmp/bmcwd-daemon.log
