"""The raw baseline server of the fan-out and connection benchmarks.

A plain ``websockets`` asyncio server with none of reactor on top, run as a
subprocess by ``bench/fanout.py`` and ``bench/connections.py``:

* a subscriber (any path but ``/publish``) is answered, at its
  ``ModifyQuerySet``, with one canned initial ``Transition`` (so the load
  process sees it subscribed exactly as with reactor), then held idle;
* every message the writer sends on ``/publish`` is broadcast verbatim to all
  subscribers with ``websockets.broadcast`` (the writer pads it to the size of
  reactor's Transition frame).

It runs on the default asyncio event loop, as ``reactor serve`` does, with the
same WebSocket ping interval as reactor's server.

    python bench/_raw_ws.py --port N [--ping-interval 5]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import signal
import time

import orjson
from websockets.asyncio.server import ServerConnection, broadcast, serve

subscribers: set[ServerConnection] = set()


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
            broadcast(subscribers, message)
        return
    subscribers.add(ws)
    try:
        async for message in ws:
            if isinstance(message, str) and '"ModifyQuerySet"' in message:
                await ws.send(initial_transition())
    finally:
        subscribers.discard(ws)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ping-interval", type=float, default=5.0)
    options = parser.parse_args()
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
    asyncio.run(main())
