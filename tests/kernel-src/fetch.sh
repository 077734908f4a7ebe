#!/usr/bin/env bash
# Fetch Debian's kernel source for the kernel the QEMU rig boots, and print the
# directory that holds it (one line on stdout, nothing else).
#
#   tests/kernel-src/fetch.sh            # prints e.g. /tmp/bmcwd-kernel-src/6.1.192-3/linux-source-6.1
#
# The rig boots the kernel that Debian's `linux-image-amd64` depends on; this
# script downloads `linux-source-X.Y` at exactly that package version (about
# 139 MB), so the C file we test and the kernel we boot are the same code. The
# extracted tree keeps only what the IPMI C harness and the module build need
# (drivers/char/ipmi/ and include/), cached in $KSRC_CACHE (default
# /tmp/bmcwd-kernel-src) and reused while the version is the same.
#
# Every network step has a deadline; a failure is loud (the log on stderr, exit
# non-zero), never a silent skip. Needs apt-get (run `apt-get update` first on a
# fresh machine: the rig and tests/run.sh do).
set -uo pipefail

CACHE=${KSRC_CACHE:-/tmp/bmcwd-kernel-src}
die() { echo "kernel-src: $*" >&2; exit 1; }
retry() { # retry N CMD...: up to N tries, 5 s apart
    local n=$1 i
    shift
    for i in $(seq 1 "$n"); do
        "$@" && return 0
        [ "$i" -lt "$n" ] && sleep 5
    done
    return 1
}

image=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$image" ] || die "apt-cache depends linux-image-amd64 named no kernel package (run apt-get update?)"
version=$(apt-cache show "$image" 2>/dev/null | awk '/^Version:/ {print $2; exit}')
[ -n "$version" ] || die "apt-cache show $image gave no version"
# linux-image-6.1.0-57-amd64 -> linux-source-6.1
series=$(echo "$image" | sed -nE 's/^linux-image-([0-9]+\.[0-9]+)\..*/\1/p')
[ -n "$series" ] || die "cannot read the kernel series from $image"
pkg=linux-source-$series
dir=$CACHE/$version/$pkg
if [ ! -s "$dir/drivers/char/ipmi/ipmi_bt_sm.c" ] || [ ! -d "$dir/include/linux" ]; then
    work=$CACHE/$version/download
    rm -rf "$work" "$dir" && mkdir -p "$work" || die "mkdir $work"
    echo "kernel-src: downloading $pkg=$version (about 139 MB)" >&2
    (cd "$work" && retry 3 timeout 900 apt-get download "$pkg=$version") >"$work/download.log" 2>&1 \
        || { cat "$work/download.log" >&2; die "apt-get download $pkg=$version failed"; }
    dpkg-deb -x "$work"/*.deb "$work/x" || die "dpkg-deb -x $pkg failed"
    tarball=$(ls "$work"/x/usr/src/"$pkg".tar.* 2>/dev/null | head -1)
    [ -n "$tarball" ] || die "$pkg has no /usr/src/$pkg.tar.*"
    mkdir -p "$CACHE/$version" || die "mkdir $CACHE/$version"
    # Only the IPMI drivers and the headers: a few MB instead of 1.4 GB.
    tar -xf "$tarball" -C "$CACHE/$version" "$pkg/drivers/char/ipmi" "$pkg/include" "$pkg/Makefile" \
        || die "could not extract drivers/char/ipmi and include/ from $tarball"
    rm -rf "$work"
    [ -s "$dir/drivers/char/ipmi/ipmi_bt_sm.c" ] || die "$pkg has no drivers/char/ipmi/ipmi_bt_sm.c"
fi
echo "$dir"
