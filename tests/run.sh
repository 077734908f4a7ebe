#!/usr/bin/env bash
# The project's one test command (README "Test"), also what .ci/run calls.
#
#   bash tests/run.sh            # everything: format, lints, unit + integration + property
#                                # tests (layering and citation checks among them), docs,
#                                # patches/ against Debian's kernel source (downloads it),
#                                # then the real-kernel QEMU rig (installs its packages) and
#                                # the lanserv profile against a real ipmi_sim (openipmi)
#   bash tests/run.sh --no-vm    # the same without the QEMU rig and ipmi_sim (no packages installed;
#                                # the kernel-source step still downloads linux-source)
#   bash tests/run.sh --no-vm --no-kernel-src   # and without the kernel's C file (offline)
#
# Every step must pass; the first failure stops the run with a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."

run_vm=1
run_ksrc=1
for arg in "$@"; do
    case "$arg" in
        --no-vm) run_vm=0 ;;
        --no-kernel-src) run_ksrc=0 ;;
        *) echo "tests/run.sh: unknown argument '$arg' (known: --no-vm, --no-kernel-src)" >&2; exit 2 ;;
    esac
done

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (unit, integration, property and doc tests)"
cargo test --workspace --locked

step "cargo doc (every public item documented, no broken links: warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --locked

if [ "$run_ksrc" = 1 ]; then
    step "the kernel's own ipmi_bt_sm.c: differential vs bt-sm mainline, B-4 search on the C file"
    bash tests/kernel-src/check.sh

    step "patches/ apply cleanly to the kernel source the rig boots (patch --dry-run)"
    bash patches/check.sh
fi

if [ "$run_vm" = 1 ]; then
    step "real-kernel rig: Debian's kernel under QEMU against QEMU's BMC and ours"
    bash tests/vm/run.sh

    # Installs Debian's openipmi like the rig's packages (VM_NO_INSTALL=1: it
    # must be there).
    step "the lanserv watchdog profile against OpenIPMI's ipmi_sim (tests/lanserv/compare.py)"
    if ! command -v ipmi_sim >/dev/null && [ "${VM_NO_INSTALL:-0}" != 1 ]; then
        DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q --no-install-recommends openipmi >/dev/null
    fi
    cargo build -q --locked -p bmcwd
    python3 tests/lanserv/compare.py "${CARGO_TARGET_DIR:-target}/debug/bmcwd" 8 1
fi
