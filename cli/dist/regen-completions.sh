#!/bin/sh
# Regenerates the shipped shell completions and man pages from the current
# CLI definition (cli/tests/completions.rs and the binary's unit tests
# completions_match_the_shipped_scripts / man_pages_match_the_shipped_ones
# fail when they are stale).
set -eu
cd "$(dirname "$0")/../.."
cargo build -q -p bmcwd
bmcwd=${CARGO_TARGET_DIR:-target}/debug/bmcwd
"$bmcwd" completions bash > cli/dist/completions/bmcwd.bash
"$bmcwd" completions zsh > cli/dist/completions/_bmcwd
"$bmcwd" completions fish > cli/dist/completions/bmcwd.fish
rm -f cli/dist/man/*.1
"$bmcwd" man cli/dist/man
