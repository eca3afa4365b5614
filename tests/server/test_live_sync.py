"""Live queries over real WebSockets: fan-out, consistency, read-your-writes, cleanup."""

from __future__ import annotations

import asyncio
import socket
import uuid
from typing import Any

import anyio
import orjson
import pytest
from raw_client import RawClient, ws_url
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

from reactor.engine._logs import install_log_capture
from reactor.server import ReactorServer
from reactor.values import b64_to_u64, json_to_convex

pytestmark = pytest.mark.anyio


def bodies(rows: list[dict[str, object]]) -> list[object]:
    return [row["body"] for row in rows]


async def test_two_subscribers_see_a_third_clients_mutation(
    url: str, server: ReactorServer
) -> None:
    async with RawClient.open(url) as a, RawClient.open(url, path="/api/sync") as b:
        for client in (a, b):
            await client.subscribe(0, "messages:list", {"channel": "general"})
            await client.transition()
            assert client.results[0] == []
        assert server.live.stats()["live_queries"] == 1  # one shared live query
        async with RawClient.open(url) as writer:
            response, _ = await writer.mutation(
                "messages:send", {"channel": "general", "body": "hello"}
            )
        assert response["success"] and response["ts"] is not None
        for client in (a, b):
            transition = await client.transition()  # one Transition carries it
            assert b64_to_u64(transition["endVersion"]["ts"]) >= b64_to_u64(response["ts"])
            assert [m["queryId"] for m in transition["modifications"]] == [0]
            assert bodies(client.results[0]) == ["hello"]


async def test_queries_over_several_tables_move_together(url: str) -> None:
    async with RawClient.open(url) as c:
        await c.modify(
            *(
                {"type": "Add", "queryId": i, "udfPath": f"tables:list_{t}", "args": [{}]}
                for i, t in enumerate("abc")
            )
        )
        first = await c.transition()
        assert len(first["modifications"]) == 3  # all three, at one ts
        async with RawClient.open(url) as writer:
            await writer.mutation("tables:write", {"tables": ["a", "b"], "n": 1.0})
        t = await c.transition()
        assert sorted(m["queryId"] for m in t["modifications"]) == [0, 1]
        assert c.results == {0: [1.0], 1: [1.0], 2: []}


async def test_concurrent_writers_never_show_a_torn_state(url: str) -> None:
    """a and b are always written together: every Transition must show them equal."""
    async with RawClient.open(url) as reader:
        await reader.modify(
            *(
                {"type": "Add", "queryId": i, "udfPath": f"tables:list_{t}", "args": [{}]}
                for i, t in enumerate("ab")
            )
        )
        await reader.transition()

        async def write(n: int) -> None:
            async with RawClient.open(url) as writer:
                for i in range(5):
                    await writer.mutation("tables:write", {"tables": ["a", "b"], "n": n * 10.0 + i})

        writers = asyncio.gather(*(write(n) for n in range(4)))
        while len(reader.results[0]) < 20:
            await reader.transition()
            assert len(reader.results[0]) == len(reader.results[1])
        await writers


async def test_read_your_writes_on_the_mutating_connection(url: str) -> None:
    async with RawClient.open(url) as c:
        await c.subscribe(0, "messages:list", {"channel": "x"})
        await c.transition()
        for i in range(10):
            response, transition = await c.mutation(
                "messages:send", {"channel": "x", "body": str(i)}
            )
            # The Transition that resolves the mutation already shows its write.
            assert len(c.results[0]) == i + 1
            assert b64_to_u64(transition["endVersion"]["ts"]) >= b64_to_u64(response["ts"])


async def test_failed_mutations_get_a_transition_too(url: str) -> None:
    async with RawClient.open(url) as c:
        response, transition = await c.mutation("messages:fail", {"code": "BAD"})
        assert response["success"] is False
        assert response["result"] == 'Uncaught ConvexError: {"code":"BAD"}'
        assert response["errorData"] == {"code": "BAD"}
        assert transition["modifications"] == []
        response, _ = await c.mutation("messages:crash")
        assert response["result"] == "Uncaught Error: secret internals"  # dev errors on


async def test_remove_is_answered_and_paths_are_canonical(url: str) -> None:
    async with RawClient.open(url) as c:
        await c.subscribe(0, "messages.js:list", {"channel": "x"})
        await c.transition()
        assert c.results[0] == []
        await c.unsubscribe(0)
        t = await c.transition()
        assert t["modifications"] == [{"type": "QueryRemoved", "queryId": 0}]
        assert t["endVersion"]["querySet"] == 2


async def test_query_errors_and_log_lines_reach_the_client(url: str) -> None:
    # The server installed it at start, but pytest puts its own stdout capture
    # back between fixture setup and the test: install it again.
    install_log_capture()
    async with RawClient.open(url) as c:
        await c.modify(
            {"type": "Add", "queryId": 0, "udfPath": "messages:chatty", "args": [{}]},
            {"type": "Add", "queryId": 1, "udfPath": "messages:broken", "args": [{}]},
            {"type": "Add", "queryId": 2, "udfPath": "messages:secret", "args": [{}]},
            {"type": "Add", "queryId": 3, "udfPath": "nope:nothing", "args": [{}]},
        )
        t = await c.transition()
        by_id = {m["queryId"]: m for m in t["modifications"]}
        assert by_id[0]["value"] == "ok"
        assert by_id[0]["logLines"] == ["[LOG] hello from a query", "[WARN] careful"]
        assert by_id[1]["errorMessage"] == "Uncaught Error: secret query internals"
        # Internal functions answer exactly as unknown ones do.
        assert by_id[2]["errorMessage"] == "Could not find public function for 'messages:secret'"
        assert by_id[3]["errorMessage"] == "Could not find public function for 'nope:nothing'"


async def test_actions_answer_and_are_followed_by_a_transition(url: str) -> None:
    async with RawClient.open(url) as c:
        args = {"x": {"$integer": "AQAAAAAAAAA="}, "b": {"$bytes": "+/8AAX8="}}
        await c.send({"type": "Action", "requestId": 0, "udfPath": "messages:echo", "args": [args]})
        response = await c.expect("ActionResponse")
        assert response == {
            "type": "ActionResponse",
            "requestId": 0,
            "success": True,
            "result": args,
            "logLines": [],
        }
        await c.transition()


async def test_subscribe_unsubscribe_cycles_leave_no_subscription(
    url: str, server: ReactorServer
) -> None:
    async with RawClient.open(url) as c:
        for i in range(10_000):
            await c.subscribe(i, "messages:list", {"channel": f"c{i % 10}"})
            await c.unsubscribe(i)
        while c.version["querySet"] < 20_000:
            await c.transition()
        await server.live.settle()
        stats = server.live.stats()
        assert (stats["live_queries"], stats["indexed"], stats["intervals"]) == (0, 0, 0)
    await server.live.settle()
    assert server.live.stats()["tasks"] == 0


async def test_paginated_subscription_journal_survives_a_reconnect(url: str) -> None:
    args = {"channel": "p", "paginationOpts": {"numItems": 2.0, "cursor": None}}
    async with RawClient.open(url) as writer:
        for body in ("m1", "m2", "m3"):
            await writer.mutation("messages:send", {"channel": "p", "body": body})
    async with RawClient.open(url) as c:
        await c.subscribe(0, "messages:page_desc", args)
        (update,) = (await c.transition())["modifications"]
        journal = update["journal"]
        assert journal is not None  # the pinned page end, for the client to keep
        assert bodies(c.results[0]["page"]) == ["m3", "m2"]
    async with RawClient.open(url) as writer:
        await writer.mutation("messages:send", {"channel": "p", "body": "m4"})
    # Reconnected, the client re-adds the query with the journal it last received:
    # the page keeps its end (and grows), instead of becoming the newest two.
    async with RawClient.open(url) as c:
        await c.subscribe(0, "messages:page_desc", args, journal=journal)
        await c.transition()
        assert bodies(c.results[0]["page"]) == ["m4", "m3", "m2"]


async def test_updates_are_written_at_once_to_sockets_with_room(
    url: str, server: ReactorServer
) -> None:
    """Under uvicorn, an update for a client that reads its socket is written from
    the live queries' callback, with no wake of the connection's sender task."""
    async with RawClient.open(url) as a, RawClient.open(url) as b:
        for client in (a, b):
            await client.subscribe(0, "messages:list", {"channel": "direct"})
            await client.transition()
        before = dict(server.frames)
        async with RawClient.open(url) as writer:
            await writer.mutation("messages:send", {"channel": "direct", "body": "hi"})
        for client in (a, b):
            await client.transition()
            assert bodies(client.results[0]) == ["hi"]
        assert server.frames["direct"] - before["direct"] >= 2


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_updates_of_every_size_arrive_exact_with_or_without_compression(
    url: str, server: ReactorServer, compression: str | None
) -> None:
    """Without compression the server frames each update itself (once for all the
    clients it is alike for); with it, each connection compresses its own."""
    async with (
        RawClient.open(url, compression=compression) as a,
        RawClient.open(url, compression=compression) as b,
    ):
        for client in (a, b):
            await client.subscribe(0, "messages:list", {"channel": "sizes"})
            await client.transition()
        before = server.frames["direct"]
        sent: list[str] = []
        async with RawClient.open(url) as writer:
            # Frames across the 7-, 16- and 64-bit WebSocket length encodings.
            for size in (1, 100, 70_000):
                body = "é" * size
                sent.append(body)
                await writer.mutation("messages:send", {"channel": "sizes", "body": body})
                for client in (a, b):
                    while bodies(client.results[0]) != sent:
                        await client.transition()
        assert server.frames["direct"] - before >= 6


async def test_clients_at_different_versions_of_one_query_each_get_their_own_frames(
    url: str,
) -> None:
    """A shared query's update is framed once for the clients it is alike for, and
    anew for a client with another query-set version or another id for it
    (RawClient checks that every Transition chains from the client's last one)."""
    async with (
        RawClient.open(url, compression=None) as plain,
        RawClient.open(url, compression=None) as twin,
        RawClient.open(url, compression=None) as more,
    ):
        for client in (plain, twin):
            await client.subscribe(0, "messages:list", {"channel": "versions"})
            await client.transition()
        await more.subscribe(7, "messages:list", {"channel": "versions"})
        await more.transition()
        await more.subscribe(8, "messages:list", {"channel": "other"})
        await more.transition()
        async with RawClient.open(url) as writer:
            await writer.mutation("messages:send", {"channel": "versions", "body": "v"})
        for client, query_id in ((plain, 0), (twin, 0), (more, 7)):
            transition = await client.transition()
            assert [m["queryId"] for m in transition["modifications"]] == [query_id]
            assert bodies(client.results[query_id]) == ["v"]
        assert more.version["querySet"] == 2 and plain.version["querySet"] == 1


class StalledReader:
    """A sync client over a bare socket with a small receive buffer, driven by the
    sans-I/O ``websockets`` protocol, that reads only when asked: between reads
    nothing is taken off the socket, so the server's writes back up."""

    def __init__(self, url: str) -> None:
        self.url = ws_url(url)
        self.protocol = ClientProtocol(parse_uri(self.url), max_size=None)
        self.results: dict[int, Any] = {}
        self.transitions = 0

    async def open(self) -> None:
        host, port = self.url.removeprefix("ws://").split("/")[0].split(":")
        sock = socket.socket()
        # Fixed, so no autotuning: loopback's may grow to 32 MiB.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        self.reader, self.writer = await asyncio.open_connection(sock=sock)
        self.protocol.send_request(self.protocol.connect())
        await self._flush()
        while self.protocol.handshake_exc is None and self.protocol.state.name == "CONNECTING":
            await self._read()

    async def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            self.writer.write(data)
        await self.writer.drain()

    async def _read(self) -> None:
        self.protocol.receive_data(await self.reader.read(65536))

    async def send(self, message: dict[str, Any]) -> None:
        self.protocol.send_text(orjson.dumps(message))
        await self._flush()

    async def transition(self) -> None:
        while True:
            for event in self.protocol.events_received():
                if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    message = orjson.loads(event.data)
                    if message["type"] == "Transition":
                        self.transitions += 1
                        for m in message["modifications"]:
                            self.results[m["queryId"]] = json_to_convex(m["value"])
                        return
            await self._read()

    def close(self) -> None:
        self.writer.close()


async def test_a_client_that_stops_reading_slows_no_one_and_gets_the_newest_state(
    url: str, server: ReactorServer
) -> None:
    """A subscriber stops reading while results grow past what its socket buffers
    hold: the others still get every update at once, its own updates wait in its
    sender task and collapse, and once it reads again it catches up to the latest
    state in fewer Transitions than there were commits."""
    commits, body = 30, "x" * 50_000  # each result grows by 50 KB: megabytes soon
    slow = StalledReader(url)
    await slow.open()
    try:
        await slow.send(
            {
                "type": "Connect",
                "sessionId": str(uuid.uuid4()),
                "connectionCount": 0,
                "lastCloseReason": "InitialConnect",
                "clientTs": 0,
            }
        )
        await slow.send(
            {
                "type": "ModifyQuerySet",
                "baseVersion": 0,
                "newVersion": 1,
                "modifications": [
                    {
                        "type": "Add",
                        "queryId": 0,
                        "udfPath": "messages:list",
                        "args": [{"channel": "big"}],
                    }
                ],
            }
        )
        await slow.transition()
        async with RawClient.open(url) as fast, RawClient.open(url) as writer:
            await fast.subscribe(0, "messages:list", {"channel": "big"})
            await fast.transition()
            by_sender = server.frames["by_sender"]
            for i in range(commits):  # slow reads nothing meanwhile
                await writer.mutation("messages:send", {"channel": "big", "body": f"{i:02}{body}"})
                with anyio.fail_after(10):
                    while len(fast.results[0]) <= i:
                        await fast.transition()
        with anyio.fail_after(30):
            while len(slow.results[0]) < commits:
                await slow.transition()
        assert slow.transitions - 1 < commits  # collapsed
        # Beside the writer's responses and Transitions, slow's frames went through
        # its sender task: its socket had no room for a direct write.
        assert server.frames["by_sender"] > by_sender + 2 * commits
        assert slow.results[0][-1]["body"][:2] == f"{commits - 1:02}"
    finally:
        slow.close()
