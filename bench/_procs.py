"""Processes for the WebSocket benchmarks: servers, the load process, RSS, fd limits.

Everything listens and connects on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SYNC_PATH = "/api/1.48.0/sync"

__all__ = [
    "Load",
    "Server",
    "cpu_seconds",
    "fd_count",
    "free_port",
    "machine_busy_seconds",
    "raise_fd_limit",
    "raw_server",
    "reactor_origin",
    "reactor_server",
    "rss_kib",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit; child processes inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    """VmRSS of a process, from /proc/<pid>/status, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time spent busy on all cores so far (from /proc/stat), for telling how much
    of the machine other processes took during a measurement."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    ws_url: str
    command: list[str]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_listening(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited with {process.returncode}: {log_path.read_text()[-2000:]}"
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("server did not listen within 30 s")
        time.sleep(0.05)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"reactor serve exited with {process.returncode}: {log_path.read_text()[-2000:]}"
            )
        with contextlib.suppress(OSError), opener.open(f"{url}/health", timeout=1) as response:
            if response.status == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError("reactor serve did not become healthy in 30 s")
        time.sleep(0.05)


def reactor_origin() -> str:
    """Where the server subprocess imports reactor from (PYTHONPATH may point elsewhere
    than this checkout, e.g. at a snapshot of a commit)."""
    return subprocess.run(
        [sys.executable, "-c", "import reactor, os; print(os.path.dirname(reactor.__file__))"],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    ).stdout.strip()


def on_cpus(cpus: frozenset[int] | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that keeps a subprocess (and the threads it starts) on ``cpus``."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def split_cpus() -> tuple[frozenset[int], frozenset[int]] | None:
    """CPUs for (the server, the load process): the first one for the server, the
    others for the load; None on a machine with a single CPU."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None
    return frozenset(available[:1]), frozenset(available[1:])


@contextlib.contextmanager
def reactor_server(
    app: Path,
    data_dir: Path,
    *,
    durability: str = "full",
    loop: str = "auto",
    max_connections: int | None = None,
    cpus: frozenset[int] | None = None,
) -> Iterator[Server]:
    """``reactor serve`` as a subprocess on a fresh SQLite file (``synchronous=FULL``
    for the default durability ``full``), on the event loop ``loop`` (``--loop``),
    serving up to ``max_connections`` sync connections (default: the server's),
    on ``cpus`` (default: wherever the OS puts it)."""
    env = dict(os.environ)
    if max_connections is not None:
        env["REACTOR_MAX_CONNECTIONS"] = str(max_connections)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "reactor",
        "serve",
        "--app",
        str(app),
        "--port",
        str(port),
        "--db",
        f"sqlite://{data_dir / 'data.db'}?durability={durability}",
        "--loop",
        loop,
    ]
    log_path = data_dir / "reactor.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=data_dir,
            env=env,
            preexec_fn=on_cpus(cpus),
        )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", process, log_path)
        yield Server(
            "reactor", process, port, f"ws://127.0.0.1:{port}{SYNC_PATH}", command, log_path
        )
    finally:
        _stop(process)


@contextlib.contextmanager
def raw_server(
    data_dir: Path,
    *,
    mode: str = "broadcast",
    loop: str = "auto",
    cpus: frozenset[int] | None = None,
) -> Iterator[Server]:
    """The raw ``websockets`` baseline server (bench/_raw_ws.py) as a subprocess, on
    the same event loop as reactor's (``loop`` as ``reactor serve --loop``), on ``cpus``."""
    port = free_port()
    command = [sys.executable, str(BENCH / "_raw_ws.py"), "--port", str(port), "--mode", mode]
    command += ["--loop", loop]
    log_path = data_dir / "raw.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=data_dir, preexec_fn=on_cpus(cpus)
        )
    try:
        _wait_listening(process, port, log_path)
        yield Server(
            "raw websockets", process, port, f"ws://127.0.0.1:{port}{SYNC_PATH}", command, log_path
        )
    finally:
        _stop(process)


class Load:
    """A running bench/_load.py: clients opened, then commands over stdin."""

    def __init__(
        self, ws_url: str, count: int, *extra: str, cpus: frozenset[int] | None = None
    ) -> None:
        self.command = [
            sys.executable,
            str(BENCH / "_load.py"),
            "--url",
            ws_url,
            "--count",
            str(count),
            *extra,
        ]
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            preexec_fn=on_cpus(cpus),
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def events(self) -> Iterator[dict[str, Any]]:
        """Its JSON lines until ``ready`` (included)."""
        stdout: IO[bytes] | None = self.process.stdout
        assert stdout is not None
        for line in stdout:
            event: dict[str, Any] = orjson.loads(line)
            yield event
            if event["event"] == "ready":
                return
        raise RuntimeError(f"the load process exited with {self.process.wait()}")

    def report(self) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(b"report\n")
        self.process.stdin.flush()
        result: dict[str, Any] = orjson.loads(self.process.stdout.readline())
        return result

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            with contextlib.suppress(OSError):
                self.process.stdin.write(b"quit\n")
                self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Load:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
