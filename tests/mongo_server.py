"""A MongoDB wire-protocol server for the tests: jongodb, installed from npm on first use.

Lanes:

* Default (CI and developers): the session starts the jongodb native binary
  (npm package ``@jongodb/memory-server-bin-linux-x64-gnu``, pinned and
  checked by sha256). On first use it runs ``npm install --prefix <cache>``
  into ``$REACTOR_CACHE_DIR/jongodb-<version>`` (default
  ``~/.cache/reactor``), under a file lock, so nothing needs a shell step;
  later runs reuse the binary. The server listens on a free loopback port and
  is stopped at the end of the session. If it cannot be installed or started,
  every MongoDB test fails with the reason (never a silent skip).
* ``REACTOR_SKIP_MONGO=1``: the MongoDB tests are deselected, and the run says so.
* ``MONGODB_URI=mongodb://...`` (a real replica set, e.g. ``mongod --replSet rs0``
  after ``rs.initiate()``): the same contract and MongoDB tests also run
  against it, with the real change-stream test. Each test uses its own
  database, dropped afterwards. Example::

      MONGODB_URI='mongodb://127.0.0.1:27017/?replicaSet=rs0' .venv/bin/pytest tests/storage

jongodb speaks the wire protocol with CRUD and transactions (point-in-time
reads inside a transaction, insert-insert conflicts on ``_id``), but has no
change streams, no ``drop``/``dropDatabase``/``listCollections``, and does not
detect update-update write conflicts.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["JONGODB_VERSION", "WireServer", "install_jongodb", "start_jongodb"]

JONGODB_PACKAGE = "@jongodb/memory-server-bin-linux-x64-gnu"
JONGODB_VERSION = "0.1.6"
JONGODB_SHA256 = "c53888f078d7f5f38d5386685044cf54dd94aaf831ebc09c76f1d4fbc321b625"
START_TIMEOUT = 20.0
NPM_TIMEOUT = 300.0


class WireServerError(RuntimeError):
    pass


def cache_dir() -> Path:
    root = os.environ.get("REACTOR_CACHE_DIR") or Path.home() / ".cache" / "reactor"
    return Path(root) / f"jongodb-{JONGODB_VERSION}"


def _binary_in(prefix: Path) -> Path:
    return prefix / "node_modules" / JONGODB_PACKAGE / "bin" / "jongodb"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def install_jongodb(target: Path | None = None) -> Path:
    """The jongodb binary, installed with npm into ``target`` unless already there."""
    target = target or cache_dir()
    binary = _binary_in(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A lock, so parallel test runs on one machine install once, not into each other.
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists() and _sha256(binary) == JONGODB_SHA256:
            return binary
        npm = shutil.which("npm")
        if npm is None:
            raise WireServerError(
                "npm is not on PATH, so the jongodb wire server cannot be installed"
            )
        staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.", dir=target.parent))
        try:
            command = [npm, "install", "--prefix", str(staging), "--no-audit", "--no-fund"]
            command += ["--no-save", "--loglevel=error", f"{JONGODB_PACKAGE}@{JONGODB_VERSION}"]
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=NPM_TIMEOUT, check=False
            )
            if done.returncode != 0:
                raise WireServerError(
                    f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stderr[-2000:]}"
                )
            got = _sha256(_binary_in(staging))
            if got != JONGODB_SHA256:
                raise WireServerError(f"jongodb binary has sha256 {got}, expected {JONGODB_SHA256}")
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)  # atomic: a half-installed cache is never seen
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return binary


class WireServer:
    """A running server process and the URI to reach it."""

    def __init__(self, process: subprocess.Popen[str], uri: str, log: Path) -> None:
        self.process = process
        self.uri = uri
        self.log = log
        """Where the server's stderr goes."""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.log.unlink(missing_ok=True)


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies, even if it is killed,
    so that no server outlives its test run."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start_jongodb(binary: Path) -> WireServer:
    """Start jongodb on a free loopback port; wait for its ``JONGODB_URI=`` line."""
    fd, log_name = tempfile.mkstemp(prefix="jongodb.", suffix=".log")
    log = Path(log_name)
    with os.fdopen(fd, "w") as log_file:
        process = subprocess.Popen(
            [str(binary), "--host=127.0.0.1", "--port=0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            preexec_fn=_die_with_parent,
        )
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        # A thread, because readline cannot time out; it keeps draining stdout
        # afterwards so that the server never blocks on a full pipe.
        assert process.stdout is not None
        with contextlib.suppress(ValueError, OSError):  # closed by stop()
            for line in process.stdout:
                if not found and line.startswith("JONGODB_URI="):
                    found.append(line.removeprefix("JONGODB_URI=").strip())
                    ready.set()
        ready.set()

    threading.Thread(target=read, name="jongodb-stdout", daemon=True).start()
    if not ready.wait(START_TIMEOUT) or not found:
        server = WireServer(process, "", log)
        stderr = log.read_text(errors="replace")[-2000:]
        server.stop()
        raise WireServerError(
            f"jongodb did not report its URI within {START_TIMEOUT:g} s "
            f"(exit code {process.returncode}); its stderr:\n{stderr}"
        )
    # The URI names the launcher's default database; each test picks its own.
    return WireServer(process, found[0].rsplit("/", 1)[0] + "/", log)


@contextlib.contextmanager
def running_jongodb() -> Iterator[tuple[WireServer, dict[str, float]]]:
    """Install (if needed) and start jongodb; yields it with the timings of each step."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    binary = install_jongodb()
    timings["install"] = time.monotonic() - started
    started = time.monotonic()
    server = start_jongodb(binary)
    timings["start"] = time.monotonic() - started
    try:
        yield server, timings
    finally:
        server.stop()
