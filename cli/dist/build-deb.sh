#!/bin/sh
# Builds the Debian package (target/debian/bmcwd_VERSION_ARCH.deb) with
# cargo-deb from [package.metadata.deb] in cli/Cargo.toml: the binary built
# with the size-optimised profile `dist` (the build the QEMU rig's `parity`
# scenario measures; cargo-deb reads the asset `target/release/bmcwd` as
# target/dist/bmcwd), the systemd unit, the man pages, the completions and
# /etc/bmcwd/bmcwd.toml. Needs cargo-deb (`cargo install --locked cargo-deb`).
# Extra arguments go to cargo deb (e.g. --no-build after
# `cargo build --profile dist -p bmcwd`).
set -eu
cd "$(dirname "$0")/../.."
command -v cargo-deb >/dev/null 2>&1 || {
    echo "build-deb.sh: cargo-deb is missing: cargo install --locked cargo-deb" >&2
    exit 1
}
exec cargo deb -p bmcwd --locked --profile dist "$@"
