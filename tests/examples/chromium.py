"""Find headless Chromium, installing the Debian ``chromium`` package when it is missing.

The browser tests call :func:`ensure_chromium`; run this file directly to install
ahead of time (``python tests/examples/chromium.py``). Installing needs root and
the network (``apt-get update`` then ``apt-get install -y chromium``); once
installed, later calls only check the binary. The result is cached per process.
Any failure raises :class:`ChromiumUnavailable` with the reason, so a test
fails loudly instead of skipping.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
LOCK = Path(os.environ.get("REACTOR_CACHE_DIR", Path.home() / ".cache" / "reactor")) / "apt.lock"


class ChromiumUnavailable(RuntimeError):
    """Chromium is not installed and could not be installed."""


def _installed() -> str | None:
    env = os.environ.get("REACTOR_CHROMIUM")
    for candidate in (env, *CANDIDATES, shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _run(command: list[str], timeout: float) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ChromiumUnavailable(f"`{' '.join(command)}` failed: {exc}") from exc
    if result.returncode != 0:
        raise ChromiumUnavailable(
            f"`{' '.join(command)}` exited with {result.returncode}:\n"
            + (result.stdout + result.stderr)[-3000:]
        )


def _install() -> None:
    if shutil.which("apt-get") is None:
        raise ChromiumUnavailable("Chromium is missing and there is no apt-get to install it")
    if os.geteuid() != 0:
        raise ChromiumUnavailable(
            "Chromium is missing and installing it needs root: run `apt-get update && "
            "apt-get install -y chromium` (or set REACTOR_CHROMIUM to a Chromium binary)"
        )
    lock_wait = ["-o", "DPkg::Lock::Timeout=300"]
    _run(["apt-get", *lock_wait, "update"], timeout=300)
    _run(
        ["apt-get", *lock_wait, "install", "-y", "--no-install-recommends", "chromium"],
        timeout=600,
    )


@functools.cache
def ensure_chromium() -> str:
    """The path of a Chromium binary; installs the Debian package if none is found."""
    found = _installed()
    if found is None:
        LOCK.parent.mkdir(parents=True, exist_ok=True)
        with LOCK.open("w") as lock:  # one installer at a time across processes
            fcntl.flock(lock, fcntl.LOCK_EX)
            found = _installed()
            if found is None:
                _install()
                found = _installed()
        if found is None:
            raise ChromiumUnavailable("apt-get installed chromium but no binary was found")
    try:
        subprocess.run([found, "--version"], capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ChromiumUnavailable(f"{found} does not run: {exc}") from exc
    return found


if __name__ == "__main__":
    started = time.monotonic()
    try:
        path = ensure_chromium()
    except ChromiumUnavailable as exc:
        sys.exit(str(exc))
    print(f"{path} ready in {time.monotonic() - started:.1f} s")
