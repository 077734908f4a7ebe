#!/usr/bin/env python3
"""The lanserv watchdog profile against OpenIPMI's ipmi_sim itself.

usage: compare.py BMCWD [N] [SEED]

Starts ipmi_sim (Debian `openipmi`) on loopback with tests/lanserv/lan.conf
and bmc.emu (VM link, Watchdog 2 sensor 0) and `BMCWD sim serve --bmc default
--watchdog lanserv` (our SimBmc with the `lanserv` profile), then plays N
generated Set/Reset/Get Watchdog Timer sequences (seeded) against both at
once over the VM link, as QEMU would (probe.py's client), and compares the
completion code of every answer and every control the BMC sends (ATTN on a
messaging pre-timeout, RESET/POWEROFF on expiry) with its arrival time,
within 0.15 s. Prints one line per sequence; exits 1 on any difference.
"""
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from probe import VM  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = 0.15


def sequence(rng):
    """[(at_s, cmd, data)]: a Set, a Reset, then up to three more Resets or
    Sets (with or without don't-stop) and a Get, within 3 s."""
    action = rng.choice([0x01, 0x02])  # hard reset, power down
    pre_irq = rng.choice([0, 0x30])  # none, messaging
    pre = rng.choice([0, 1, 2]) if pre_irq else 0
    ticks = rng.choice([8, 10, 15, 20, 25, 30, 40])
    set_data = [0x04, pre_irq | action, pre, 0, ticks, 0]
    steps = [(0.0, 0x24, set_data), (0.0, 0x22, [])]
    t = 0.0
    for _ in range(rng.randint(0, 3)):
        # Spacings whose sums stay clear of whole seconds: a re-arm that
        # leaves exactly 1 s after a pre-action is a race in ipmi_sim itself
        # (its timer's latency decides whether the rest is under 1 s).
        t += rng.choice([0.45, 0.75, 1.35])
        if rng.random() < 0.6:
            steps.append((t, 0x22, []))
        else:
            dont_stop = rng.choice([0x40, 0x00])
            steps.append((t, 0x24, [0x04 | dont_stop] + set_data[1:]))
    steps.append((t + 0.2, 0x25, []))
    return steps


def play(port, steps, total, out):
    vm = VM(port)
    vm.pump(time.monotonic() + 0.5)
    vm.events = []
    vm.t0 = time.monotonic()
    ccs = []
    for at, cmd, data in steps:
        vm.pump(vm.t0 + at)
        r = vm.req(6, cmd, data)
        ccs.append(None if not r or len(r) < 4 else r[3])
    vm.pump(vm.t0 + total)
    vm.sock.close()
    out.extend([ccs, [(t, b.hex()) for k, t, b in vm.events if k == "ctl"]])


def main():
    bmcwd = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    rng = random.Random(seed)
    bad = 0
    for i in range(n):
        steps = sequence(rng)
        with tempfile.TemporaryDirectory() as work:
            sim = subprocess.Popen(["ipmi_sim", "-c", os.path.join(HERE, "lan.conf"), "-f",
                                    os.path.join(HERE, "bmc.emu"), "-s", work, "-n"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ours = subprocess.Popen([bmcwd, "sim", "serve", "--bmc", "default", "--watchdog-profile", "lanserv",
                                     "--vm-listen", "127.0.0.1:19003"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(1.0)
                a, b = [], []
                ta = threading.Thread(target=play, args=(19002, steps, 8.0, a))
                tb = threading.Thread(target=play, args=(19003, steps, 8.0, b))
                ta.start(); tb.start(); ta.join(); tb.join()
            finally:
                sim.terminate(); ours.terminate(); sim.wait(); ours.wait()
        (cc_i, ctl_i), (cc_m, ctl_m) = a, b
        same_cc = cc_i == cc_m
        same_ctl = len(ctl_i) == len(ctl_m) and all(
            x[1] == y[1] and abs(x[0] - y[0]) <= TOL for x, y in zip(ctl_i, ctl_m))
        ok = same_cc and same_ctl
        bad += not ok
        show = " ".join(f"{t:.1f}:{c:02x}{''.join(f'{d:02x}' for d in dd)}" for t, c, dd in steps)
        print(f"{'ok  ' if ok else 'DIFF'} #{i} {show}\n"
              f"     ipmi_sim cc {cc_i} ctl {[(round(t, 2), c) for t, c in ctl_i]}\n"
              f"     model    cc {cc_m} ctl {[(round(t, 2), c) for t, c in ctl_m]}")
    print(f"lanserv vs ipmi_sim: {n - bad} of {n} sequences agree")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
