"""The conformance harness of ../shared/conformance with npm ``convex`` installed
from its lock file, cached under ``REACTOR_CACHE_DIR`` (default
``~/.cache/reactor``): the official JS client for every test that drives it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "conformance"
CACHE = Path(os.environ.get("REACTOR_CACHE_DIR", Path.home() / ".cache" / "reactor"))

__all__ = ["CACHE", "SHARED", "install_harness"]


def install_harness() -> Path:
    """A writable copy of the harness, its scripts in step with shared/, its npm
    dependencies installed once per lock file; returns its folder."""
    if not SHARED.is_dir():
        pytest.fail(f"the conformance harness is missing: expected it at {SHARED}")
    target = CACHE / "conformance"
    lock = (SHARED / "package-lock.json").read_bytes()
    stamp = target / ".lock-copy"
    fresh = not (stamp.exists() and stamp.read_bytes() == lock)
    if fresh:
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
    for item in SHARED.iterdir():
        if item.is_file():
            shutil.copy(item, target / item.name)
    if fresh:
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=target,
            check=True,
            timeout=600,
        )
        stamp.write_bytes(lock)
    return target
