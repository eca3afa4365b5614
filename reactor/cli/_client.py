"""What the CLI needs to talk to a running server: the admin key and errors that help."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NoReturn

import httpx2
import typer
from rich.console import Console

__all__ = ["admin_key", "fail", "request"]

err = Console(stderr=True)


def fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/bold red] {message}")
    raise typer.Exit(1)


def admin_key(app_dir: Path) -> str:
    """REACTOR_ADMIN_KEY, else the key the server wrote into <app>/.reactor/admin_key."""
    key = os.environ.get("REACTOR_ADMIN_KEY")
    if key:
        return key
    path = app_dir / ".reactor" / "admin_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        fail(
            f"no admin key: set REACTOR_ADMIN_KEY or start the server once for {app_dir} "
            f"(it writes {path})"
        )


def request(method: str, url: str, app_dir: Path, **kwargs: Any) -> httpx2.Response:
    headers = {"Authorization": f"Convex {admin_key(app_dir)}"}
    try:
        with httpx2.Client(timeout=60) as client:
            return client.request(method, url, headers=headers, **kwargs)
    except httpx2.ConnectError:
        fail(f"no reactor server answers at {url}: start one with `reactor serve`")
