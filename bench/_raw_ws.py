"""The raw baseline server of the fan-out and connection benchmarks.

A plain ``websockets`` asyncio server with none of reactor on top, run as a
subprocess by ``bench/fanout.py`` and ``bench/connections.py``:

* a subscriber (any path but ``/publish``) is answered, at its
  ``ModifyQuerySet``, with one canned initial ``Transition`` (so the load
  process sees it subscribed exactly as with reactor), then held idle;
* every message the writer sends on ``/publish`` is broadcast verbatim to all
  subscribers with ``websockets.broadcast`` (the writer pads it to the size of
  reactor's Transition frame).

It runs on the same event loop as ``reactor serve`` (``--loop``: uvloop when it
is installed, else asyncio's), with the same WebSocket ping interval as
reactor's server.

    python bench/_raw_ws.py --port N [--ping-interval 5] [--mode broadcast|tasks]
                            [--loop auto|asyncio|uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import signal
import time

import orjson
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from reactor.cli._serve import EventLoop, loop_factory

subscribers: set[ServerConnection] = set()
per_task = False
"""``--mode tasks``: instead of ``broadcast``, wake one sender task per connection
that awaits ``send`` (the shape of reactor's sender), to tell the cost of that
design apart from the rest of reactor."""
latest: list[str] = [""]
wakers: set[asyncio.Event] = set()


def initial_transition() -> str:
    return orjson.dumps(
        {
            "type": "Transition",
            "startVersion": {"querySet": 0, "identity": 0, "ts": "AAAAAAAAAAA="},
            "endVersion": {"querySet": 1, "identity": 0, "ts": "MviyfgFy6xg="},
            "modifications": [
                {
                    "type": "QueryUpdated",
                    "queryId": 0,
                    "value": None,
                    "logLines": [],
                    "journal": None,
                }
            ],
            "clientClockSkew": 0,
            "serverTs": time.time_ns(),
        }
    ).decode()


async def handler(ws: ServerConnection) -> None:
    if ws.request is not None and ws.request.path == "/publish":
        async for message in ws:
            if per_task:
                latest[0] = str(message)
                for wake in wakers:
                    wake.set()
            else:
                broadcast(subscribers, message)
        return
    subscribers.add(ws)
    sender = asyncio.create_task(send_loop(ws)) if per_task else None
    try:
        async for message in ws:
            if isinstance(message, str) and '"ModifyQuerySet"' in message:
                await ws.send(initial_transition())
    except ConnectionClosed:
        pass  # the load process drops its connections without a close frame
    finally:
        subscribers.discard(ws)
        if sender is not None:
            sender.cancel()


async def send_loop(ws: ServerConnection) -> None:
    wake = asyncio.Event()
    wakers.add(wake)
    try:
        while True:
            await wake.wait()
            wake.clear()
            await ws.send(latest[0])
    finally:
        wakers.discard(wake)


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ping-interval", type=float, default=5.0)
    parser.add_argument("--mode", choices=("broadcast", "tasks"), default="broadcast")
    parser.add_argument("--loop", choices=[e.value for e in EventLoop], default="auto")
    return parser.parse_args()


async def main(options: argparse.Namespace) -> None:
    global per_task
    per_task = options.mode == "tasks"
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(
        handler,
        "127.0.0.1",
        options.port,
        ping_interval=options.ping_interval,
        ping_timeout=120,
        max_size=None,
        backlog=2048,
    ):
        await stop


if __name__ == "__main__":
    options = parse_options()
    with asyncio.Runner(loop_factory=loop_factory(EventLoop(options.loop))) as runner:
        runner.run(main(options))
