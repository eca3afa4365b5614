"""``reactor serve`` and ``reactor dev``: run an app under uvicorn.

``dev`` also watches the app folder and reloads functions and schema in
place: connections stay open and subscribed clients get fresh results.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import gc
import importlib.util
import logging
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from reactor.cli._client import fail
from reactor.errors import ReactorError

console = Console(stderr=True)
log = logging.getLogger("reactor.cli")


def _configure_logging() -> None:
    # A plain handler: every function run is logged, and RichHandler costs
    # hundreds of microseconds a record on the hot path of every update.
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s", "%H:%M:%S")
    )
    logging.basicConfig(level=logging.INFO, handlers=[handler])


class EventLoop(enum.StrEnum):
    auto = "auto"
    """uvloop if it is installed (it comes with uvicorn[standard]), else asyncio."""
    asyncio = "asyncio"
    uvloop = "uvloop"


def loop_factory(choice: EventLoop) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop ``serve`` runs on; None for asyncio's default.

    uvloop's transports write to sockets and run callbacks in C, which trims
    the server's CPU time per frame sent (bench/fanout.py --loop compares).
    """
    if choice is EventLoop.asyncio:
        return None
    if choice is EventLoop.auto and importlib.util.find_spec("uvloop") is None:
        return None
    try:
        import uvloop
    except ImportError:
        fail("--loop uvloop: uvloop is not installed (pip install uvloop)")
    return uvloop.new_event_loop


def serve(
    app_dir: Path,
    *,
    host: str,
    port: int,
    db: str | None,
    reload: bool,
    loop: EventLoop = EventLoop.auto,
) -> None:
    _configure_logging()
    app_dir = app_dir.resolve()
    if not (app_dir / "functions").is_dir() and not (app_dir / "schema.py").is_file():
        fail(f"{app_dir} is not an app: it has neither functions/ nor schema.py")
    try:
        with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
            runner.run(_serve(app_dir, host=host, port=port, db=db, reload=reload))
    except KeyboardInterrupt:
        pass
    except (ReactorError, OSError) as exc:
        fail(str(exc))


async def _serve(app_dir: Path, *, host: str, port: int, db: str | None, reload: bool) -> None:
    import uvicorn

    from reactor.server import create_server

    server = create_server(app_dir, db=db)
    config = server.uvicorn_config(host=host, port=port)
    runner = uvicorn.Server(config)
    watcher: asyncio.Task[None] | None = None
    await server.start()
    _freeze_startup_objects()
    try:
        console.print(
            f"[bold green]reactor[/bold green] serving [bold]{app_dir}[/bold] "
            f"at http://{host}:{port} (store: {server.engine.store.url})"
            + (" — reloading on change" if reload else ""),
            highlight=False,
        )
        if reload:
            watcher = asyncio.create_task(_watch(app_dir, server))
        await runner.serve()
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await server.stop()


def _freeze_startup_objects() -> None:
    """Leave what startup made (modules, the app, the engine) out of every future
    garbage collection. Those objects live as long as the process, yet each full
    collection walked all of them: tens of milliseconds, on the path of whatever
    update was being sent at the time. They are still freed when nothing refers
    to them; only a reference cycle among them would now outlive its use (the
    previous code after a ``reactor dev`` reload, say): a bounded cost."""
    gc.collect()
    gc.freeze()


async def _watch(app_dir: Path, server: object) -> None:
    import watchfiles

    from reactor.functions import load_app

    def relevant(change: watchfiles.Change, path: str) -> bool:
        return path.endswith(".py") and "/.reactor/" not in path and "__pycache__" not in path

    async for changes in watchfiles.awatch(app_dir, watch_filter=relevant):
        names = sorted({Path(p).name for _, p in changes})
        try:
            app = load_app(app_dir)
            await server.reload(app)  # type: ignore[attr-defined]
        except Exception as exc:
            log.error("reload failed, still serving the previous version: %s", exc)
        else:
            log.info("reloaded after changes to %s", ", ".join(names))
