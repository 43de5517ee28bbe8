"""Install what tests/gitlab/test_gitlab_pipeline.py runs: gitlab-ci-local (the version locked in
tests/gitlab/package-lock.json, by `npm ci`) and rsync, which gitlab-ci-local calls to copy a
job's files and artifacts in and out of its isolated build directory.

A fresh CI machine has Python, pip, Node 20 and npm but no rsync: as root on Debian/Ubuntu,
rsync comes from apt-get; anywhere else it must already be on PATH (macOS has one). Run by the
nox `tests` session; standard library only. Exits 0 with a note when npm is absent or rsync
cannot be installed (the pipeline tests then skip, naming what is missing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# `npm ci` and apt-get finish in seconds; the bounds are for a stalled network.
NPM_TIMEOUT = 600
APT_TIMEOUT = 900


def install_gitlab_ci_local() -> bool:
    """`npm ci` in tests/gitlab; False when npm is not installed."""
    npm = shutil.which("npm")
    if npm is None:
        print("provision: npm not found; the GitLab pipeline tests will skip", file=sys.stderr)
        return False
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=HERE,
        check=True,
        timeout=NPM_TIMEOUT,
    )
    return True


def install_rsync() -> None:
    """rsync from Debian's archive when it is missing and apt-get may run (root)."""
    if shutil.which("rsync"):
        return
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        print(
            "provision: rsync is not installed, and apt-get cannot install it here (it needs "
            "root on Debian/Ubuntu): the GitLab pipeline tests will skip; install rsync to run "
            "them",
            file=sys.stderr,
        )
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([apt, "update", "-qq"], check=True, timeout=APT_TIMEOUT, env=env)
    subprocess.run(
        [apt, "install", "-y", "-qq", "--no-install-recommends", "rsync"],
        check=True,
        timeout=APT_TIMEOUT,
        env=env,
    )


def main() -> None:
    """Install both, or say why not."""
    if install_gitlab_ci_local():
        install_rsync()


if __name__ == "__main__":
    main()
