#!/usr/bin/env bash
# Manual probe of OpenIPMI's ipmi_sim (Debian `openipmi`, 2.0.33) for the
# lanserv watchdog profile's two timing switches (spec-notes/watchdog.md §4):
# starts ipmi_sim on loopback (LAN 19623, VM link 19002, Watchdog 2 sensor 0),
# plays two Set/Reset sequences over the VM link as QEMU would (probe.py) and
# prints when the controls arrive. Not yet part of tests/run.sh.
#
#   bash tests/lanserv/probe.sh pet   # Resets at 0, 1, 2 s of a 3 s hard-reset countdown
#   bash tests/lanserv/probe.sh sub   # 2.5 s countdown, 1 s messaging pre-timeout
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
ipmi_sim -c "$here/lan.conf" -f "$here/bmc.emu" -s "$work" -n >"$work/ipmi_sim.log" 2>&1 &
pid=$!
sleep 1
python3 "$here/probe.py" "${1:-pet}"
