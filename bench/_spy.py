"""py-spy for the WebSocket benchmarks: sample a server process, then say where its
time went, in a few categories named after reactor's functions.

py-spy must be installed in the venv (``pip install py-spy``); as root it can
attach to any process. Sampling pauses the target briefly, so the figures of a
profiled run are a little slower than those of a plain one.
"""

from __future__ import annotations

import collections
import shutil
import signal
import subprocess
import sys
from pathlib import Path

__all__ = ["CATEGORIES", "Breakdown", "breakdown", "start", "stop"]

CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    # First match wins, in this order, over each sampled stack of the main thread.
    ("logging: log_run → RichHandler", ("RichHandler.emit", "log_run (")),
    ("frame build: SyncSession.next_frame", ("SyncSession.next_frame",)),
    ("send syscall: transport.write", ("_SelectorSocketTransport.write",)),
    ("send layers: starlette → uvicorn", ("WebSocket.send_text", "WebSocket.send (")),
    ("wake: Event.set → call_soon", ("Event.set (",)),
    ("sender loop: timeout + Event.wait", ("_Connection._send_loop", "_Connection._sending")),
    ("query re-run: LiveQueries._refresh", ("LiveQueries._refresh",)),
    ("mutation: FunctionRunner.mutation", ("FunctionRunner.mutation", "Engine.run_mutation")),
    ("commit: Committer, _on_commit", ("Committer.", "LiveQueries._on_commit")),
    ("receive: frames in, parse", ("_Connection._receive_loop", "_read_ready")),
    ("accept/handshake", ("handshake", "_get_upgrade", "WebSocket.accept")),
]
OTHER = "other: event loop, task steps"


def executable() -> Path | None:
    local = Path(sys.executable).parent / "py-spy"
    if local.exists():
        return local
    found = shutil.which("py-spy")
    return Path(found) if found else None


def start(output: Path, pid: int, *, rate: int = 200) -> subprocess.Popen[bytes]:
    spy = executable()
    if spy is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    output.parent.mkdir(parents=True, exist_ok=True)
    command = [str(spy), "record", "--pid", str(pid), "--format", "raw"]
    command += ["--rate", str(rate), "--output", str(output)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Breakdown:
    """Shares of the main thread's busy samples (waiting in ``select`` excluded)."""

    def __init__(self, shares: dict[str, float], busy: int, idle: int) -> None:
        self.shares = shares
        self.busy = busy
        self.idle = idle


def breakdown(path: Path) -> Breakdown:
    counts: collections.Counter[str] = collections.Counter()
    busy = idle = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = stack.split(";")
        if any("Thread._bootstrap" in frame for frame in frames[:3]):
            continue  # the SQLite worker thread, mostly waiting for work
        if "EpollSelector.select" in frames[-1] or "select (selectors" in frames[-1]:
            idle += int(n)
            continue
        busy += int(n)
        for name, keys in CATEGORIES:
            if any(key in frame for frame in frames for key in keys):
                counts[name] += int(n)
                break
        else:
            counts[OTHER] += int(n)
    shares = {name: counts[name] / busy for name, _ in [*CATEGORIES, (OTHER, ())]} if busy else {}
    return Breakdown(shares, busy, idle)
