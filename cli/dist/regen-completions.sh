#!/bin/sh
# Regenerates the shipped shell completions from the current CLI definition
# (cli/tests/completions.rs and the binary's unit test
# completions_match_the_shipped_scripts fail when they are stale).
set -eu
cd "$(dirname "$0")/../.."
cargo run -q -p bmcwd -- completions bash > cli/dist/completions/bmcwd.bash
cargo run -q -p bmcwd -- completions zsh > cli/dist/completions/_bmcwd
cargo run -q -p bmcwd -- completions fish > cli/dist/completions/bmcwd.fish
