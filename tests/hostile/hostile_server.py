"""`reactor serve` as a subprocess (``serve_app``), with its pid, memory and sockets."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from reactor_process import serve_app


@dataclass(frozen=True)
class ServerProcess:
    url: str
    port: int
    pid: int
    log: Path

    def rss_bytes(self) -> int:
        """Resident memory (VmRSS), from /proc/<pid>/status."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no VmRSS for pid {self.pid}")

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def alive(self) -> bool:
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        return state != "Z"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _child_serving(port: int) -> int:
    """The pid of this process's child started with ``--port <port>``."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == me and b"--port" in args and str(port).encode() in args:
            return int(entry.name)
    raise AssertionError(f"no child process serves port {port}")


@contextlib.contextmanager
def running_server(app: Path, data_dir: Path, env: dict[str, str]) -> Iterator[ServerProcess]:
    with serve_app(app, data_dir, env=env) as url:
        port = int(url.rsplit(":", 1)[1])
        yield ServerProcess(url, port, _child_serving(port), data_dir / "server.log")
