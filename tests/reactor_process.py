"""Run `reactor serve` for an app as a real subprocess, on a free port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_app(
    app: Path,
    data_dir: Path,
    *,
    env: dict[str, str] | None = None,
    command: str = "serve",
    db: str | None = None,
) -> Iterator[str]:
    """Start ``reactor serve --app APP`` (or ``dev``) on a store in ``data_dir``
    (or ``db``); yield its URL once it answers /health."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (data_dir / "server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reactor",
            command,
            "--app",
            str(app),
            "--port",
            str(port),
            "--db",
            db or f"sqlite:///{data_dir / 'data.db'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"reactor serve exited with {process.returncode}: "
                    + (data_dir / "server.log").read_text()[-2000:]
                )
            try:
                if httpx2.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("reactor serve did not become healthy in 30 s")
            time.sleep(0.05)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
