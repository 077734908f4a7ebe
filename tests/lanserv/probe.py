#!/usr/bin/env python3
"""The VM side (what QEMU's ipmi-bmc-extern does) for tests/lanserv/probe.sh:
announce VERSION 1 and capabilities 0x1F, send Set/Reset Watchdog Timer at
given times, print the answers and every control command with its arrival
time (seconds from the first request)."""
import socket, time, sys
MSG, CMD, ESC = 0xA0, 0xA1, 0xAA
def esc(bs):
    out = []
    for b in bs:
        if b in (MSG, CMD, ESC): out += [ESC, b | 0x10]
        else: out.append(b)
    return bytes(out)
class VM:
    def __init__(s, port):
        s.sock = socket.create_connection(("127.0.0.1", port)); s.sock.settimeout(0.05)
        s.buf = []; s.t0 = time.monotonic(); s.events = []; s.id = 0; s.inesc = False
        s.sock.sendall(esc([0xFF, 1]) + bytes([CMD]) + esc([0x08, 0x1F]) + bytes([CMD]))
    def pump(s, until):
        while time.monotonic() < until:
            try: data = s.sock.recv(4096)
            except socket.timeout: continue
            for b in data:
                if b == MSG: s.events.append(("rsp", time.monotonic() - s.t0, bytes(s.buf))); s.buf = []
                elif b == CMD: s.events.append(("ctl", time.monotonic() - s.t0, bytes(s.buf))); s.buf = []
                elif b == ESC: s.inesc = True
                else:
                    if s.inesc: b &= ~0x10; s.inesc = False
                    s.buf.append(b)
    def req(s, netfn, cmd, data=()):
        s.id = (s.id + 1) & 0xFF
        body = [s.id, netfn << 2, cmd] + list(data)
        body.append((-sum(body)) & 0xFF)
        s.sock.sendall(esc(body) + bytes([MSG]))
        n = len(s.events); s.pump(time.monotonic() + 0.3)
        for e in s.events[n:]:
            if e[0] == "rsp": return e[2]
    def now(s): return time.monotonic() - s.t0
def run(name, steps, total):
    vm = VM(19002); vm.pump(time.monotonic() + 0.5); vm.t0 = time.monotonic(); vm.events = []
    for at, netfn, cmd, data in steps:
        vm.pump(vm.t0 + at)
        r = vm.req(netfn, cmd, data)
        print(f"  {vm.now():6.2f} req {netfn:02x}/{cmd:02x} {bytes(data).hex()} -> {r.hex() if r else None}")
    vm.pump(vm.t0 + total)
    for k, t, b in vm.events:
        if k == "ctl": print(f"  {t:6.2f} control {b.hex()}")
    vm.sock.close()
if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "pet"
    if which == "pet":
        # hard reset, 3.0 s; Reset at 0 and 1.0 and 2.0 s
        run("pet", [(0, 6, 0x24, [0x04, 0x01, 0, 0, 30, 0]), (0, 6, 0x22, []), (1.0, 6, 0x22, []), (2.0, 6, 0x22, [])], 6)
    elif which == "sub":
        # hard reset, pre-timeout msg int 1 s, countdown 2.5 s
        run("sub", [(0, 6, 0x24, [0x04, 0x31, 1, 0, 25, 0]), (0, 6, 0x22, [])], 5)
