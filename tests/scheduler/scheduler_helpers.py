"""Helpers shared by the scheduler tests."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from reactor.engine import Engine
from reactor.functions import load_app
from reactor.storage import SqliteStore


def copy_app(app_dir: Path, target: Path, crons: str | None = None) -> Path:
    """A copy of the scheduling app, with ``functions/crons.py`` holding ``crons``."""
    shutil.copytree(app_dir, target, ignore=shutil.ignore_patterns("__pycache__"))
    if crons is not None:
        write_crons(target, crons)
    return target


def write_crons(app: Path, body: str) -> None:
    header = "from reactor import Crons, internal\n\ncrons = Crons()\n"
    (app / "functions" / "crons.py").write_text(header + body)


def open_engine(app: Path, data: Path, *, run_scheduler: bool) -> Engine:
    return Engine(load_app(app), SqliteStore(data / "data.db"), run_scheduler=run_scheduler)


async def call(engine: Engine, kind: str, path: str, args: dict[str, Any] | None = None) -> Any:
    runner = {
        "query": engine.run_query,
        "mutation": engine.run_mutation,
        "action": engine.run_action,
    }
    result = await runner[kind](path, args or {}, allow_internal=True)
    return result.unwrap()


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, within: float = 10.0, every: float = 0.02
) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within} s")
        await asyncio.sleep(every)
