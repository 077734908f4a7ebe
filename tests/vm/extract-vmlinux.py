#!/usr/bin/env python3
"""Extract the uncompressed ELF vmlinux from a Debian bzImage (xz payload).

QEMU can boot the ELF directly through its PVH note (CONFIG_PVH=y), which
skips the xz decompressor: under TCG that saves ~2.3 s per boot
(spec-notes/real-kernel-lab.md section 2.3).

usage: extract-vmlinux.py BZIMAGE OUT
"""
import lzma
import sys

XZ_MAGIC = b"\xfd7zXZ\x00"


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    data = open(sys.argv[1], "rb").read()
    start = data.find(XZ_MAGIC)
    while start >= 0:
        try:
            out = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[start:])
        except lzma.LZMAError:
            out = b""
        if out.startswith(b"\x7fELF"):
            with open(sys.argv[2], "wb") as f:
                f.write(out)
            return 0
        start = data.find(XZ_MAGIC, start + 1)
    print(f"extract-vmlinux: no xz-compressed ELF found in {sys.argv[1]}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
