#!/usr/bin/env bash
# Check that every patch in patches/ still applies, in order and without
# fuzz, to the kernel source the QEMU rig boots (tests/kernel-src/fetch.sh:
# Debian's linux-source at the version of the rig's kernel). Fails loudly
# (the patch output on stderr, exit 1) when one does not.
#
#   bash patches/check.sh
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
die() { echo "patches: $*" >&2; exit 1; }

src=$(bash "$ROOT/tests/kernel-src/fetch.sh") || die "tests/kernel-src/fetch.sh failed"
tmp=$(mktemp -d) || die "mktemp"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/drivers/char" && cp -a "$src/drivers/char/ipmi" "$tmp/drivers/char/" || die "copying $src"
n=0
for p in "$HERE"/0*.patch; do
    [ -f "$p" ] || die "no patches in $HERE"
    # --dry-run first (nothing is touched if it fails), then apply to the
    # scratch copy so the next patch of the series sees its predecessors.
    if ! out=$(patch -d "$tmp" -p1 --dry-run --fuzz=0 --no-backup-if-mismatch <"$p" 2>&1) \
        || ! out=$(patch -d "$tmp" -p1 --fuzz=0 --no-backup-if-mismatch <"$p" 2>&1); then
        echo "$out" >&2
        die "$(basename "$p") does not apply cleanly to $src"
    fi
    n=$((n + 1))
done
echo "patches: $n patch(es) apply cleanly to $src"
