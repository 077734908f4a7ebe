#!/usr/bin/env python3
"""Installs the Debian package's files into a root directory, as the .deb
would: the assets of [package.metadata.deb] in cli/Cargo.toml (unit, man
pages, completions, /etc/bmcwd/bmcwd.toml), without running cargo-deb (a
release build would double the rig's build time). The binary asset
(target/release/bmcwd) is skipped: the rig installs its static build at the
same place, /usr/bin/bmcwd.

    deb-assets.py CLI_DIR ROOT
"""
import glob
import os
import shutil
import sys
import tomllib


def main():
    cli, root = sys.argv[1], sys.argv[2]
    with open(os.path.join(cli, "Cargo.toml"), "rb") as f:
        deb = tomllib.load(f)["package"]["metadata"]["deb"]
    n = 0
    for src, dest, mode in deb["assets"]:
        if src.startswith("target/"):
            continue
        files = sorted(glob.glob(os.path.join(cli, src)))
        if not files:
            sys.exit(f"deb-assets: {src} matches nothing")
        for path in files:
            to = os.path.join(root, dest)
            if dest.endswith("/"):
                to = os.path.join(to, os.path.basename(path))
            os.makedirs(os.path.dirname(to), exist_ok=True)
            shutil.copyfile(path, to)
            os.chmod(to, int(mode, 8))
            n += 1
    print(f"deb-assets: {n} files installed under {root}")


main()
