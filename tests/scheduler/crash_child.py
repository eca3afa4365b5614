"""Run by test_worker: serve the scheduling app, schedule a slow action, then wait
to be killed. Usage: python crash_child.py APP_DIR DATA_DIR MARKER"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from reactor.engine import Engine
from reactor.functions import load_app
from reactor.storage import SqliteStore


async def main(app: Path, data: Path, marker: Path) -> None:
    engine = Engine(load_app(app), SqliteStore(data / "data.db"))
    await engine.start()  # with its scheduler worker
    result = await engine.run_mutation(
        "jobs:schedule",
        {"delay": 0, "ref": "jobs:slow_action", "args": {"marker": str(marker), "seconds": 120}},
    )
    print(result.unwrap(), flush=True)
    await asyncio.sleep(600)  # the parent SIGKILLs us while the action sleeps


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
