"""The change-stream consumer, fed recorded change events (no server needed).

The events follow MongoDB's documented change-event shape: ``_id`` is the
resume token, inserts carry ``fullDocument`` and ``documentKey``, events of a
multi-document transaction carry ``lsid`` and ``txnNumber``, and an
``invalidate`` closes the stream after a drop or rename.
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from bson import Binary, Int64, Timestamp
from pymongo.errors import AutoReconnect, OperationFailure

from reactor.storage._mongo_changes import (
    ChangeStreamConsumer,
    ChangeStreamWaker,
    EventStream,
    Invalidate,
    Wake,
)

LSID = {"id": Binary(uuid.UUID(int=7).bytes, 4), "uid": Binary(b"\x00" * 32)}


def token(n: int) -> dict[str, str]:
    return {"_data": f"8263A1B2C3000000{n:02X}2B042C0100296E5A1004"}


def insert_event(n: int, seq: int, txn: int = 3) -> dict[str, Any]:
    return {
        "_id": token(n),
        "operationType": "insert",
        "clusterTime": Timestamp(1_764_000_000, n),
        "wallTime": datetime.datetime(2026, 11, 26, tzinfo=datetime.UTC),
        "ns": {"db": "reactor", "coll": "commits"},
        "documentKey": {"_id": seq},
        "fullDocument": {"_id": seq, "ts": 1_764_000_000_000_000_000 + seq, "commit_id": "c1"},
        "lsid": LSID,
        "txnNumber": Int64(txn),
    }


DROP = {
    "_id": token(40),
    "operationType": "drop",
    "clusterTime": Timestamp(1_764_000_001, 1),
    "ns": {"db": "reactor", "coll": "commits"},
}
INVALIDATE = {
    "_id": token(41),
    "operationType": "invalidate",
    "clusterTime": Timestamp(1_764_000_001, 1),
}


def test_inserts_wake_and_advance_the_resume_token() -> None:
    consumer = ChangeStreamConsumer()
    assert consumer.watch_options() == {}
    # Two records of one transaction: same lsid and txnNumber, one event each.
    assert consumer.handle(insert_event(1, seq=7)) == Wake(7)
    assert consumer.handle(insert_event(2, seq=8)) == Wake(8)
    assert consumer.last_seq == 8
    assert consumer.watch_options() == {"resume_after": token(2)}
    # A late duplicate never moves last_seq back.
    assert consumer.handle(insert_event(3, seq=5)) == Wake(5)
    assert consumer.last_seq == 8


def test_an_insert_without_full_document_still_wakes() -> None:
    event = insert_event(1, seq=9)
    del event["fullDocument"]
    assert ChangeStreamConsumer().handle(event) == Wake(9)
    event.pop("documentKey")
    assert ChangeStreamConsumer().handle(event) == Wake(None)


def test_drop_then_invalidate_ends_the_stream_for_good() -> None:
    consumer = ChangeStreamConsumer()
    consumer.handle(insert_event(1, seq=1))
    assert consumer.handle(DROP) is None
    assert isinstance(consumer.handle(INVALIDATE), Invalidate)
    assert consumer.watch_options() == {}  # resumeAfter cannot pass an invalidate


def test_errors_decide_between_resume_restart_and_polling() -> None:
    consumer = ChangeStreamConsumer()
    consumer.handle(insert_event(1, seq=1))
    assert consumer.on_error(AutoReconnect("connection reset")) == "resume"
    assert consumer.watch_options() == {"resume_after": token(1)}
    lost = OperationFailure("history lost", code=286)
    assert consumer.on_error(lost) == "restart"
    assert consumer.watch_options() == {}
    # jongodb's answer, and a standalone mongod's.
    jongodb = OperationFailure("unsupported aggregation stage: $changeStream", code=238)
    assert consumer.on_error(jongodb) == "poll"
    standalone = OperationFailure("only supported on replica sets", code=40573)
    assert consumer.on_error(standalone) == "poll"


class FakeStream:
    """Replays recorded events, then fails or waits, like a change-stream cursor."""

    def __init__(self, events: list[Mapping[str, Any]], then: BaseException | None) -> None:
        self.events = events
        self.then = then
        self.closed = False

    def __aiter__(self) -> AsyncIterator[Mapping[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Mapping[str, Any]]:
        for event in self.events:
            await asyncio.sleep(0)
            yield event
        if self.then is not None:
            raise self.then
        await asyncio.Event().wait()  # an open stream with nothing new

    async def close(self) -> None:
        self.closed = True


@pytest.mark.anyio
async def test_the_waker_resumes_after_an_error_with_the_last_token() -> None:
    opened: list[dict[str, Any]] = []
    streams = [
        FakeStream([insert_event(1, seq=1), insert_event(2, seq=2)], AutoReconnect("reset")),
        FakeStream([insert_event(3, seq=3)], None),
    ]

    async def open_stream(pipeline: list[dict[str, Any]], options: dict[str, Any]) -> EventStream:
        assert pipeline[0]["$match"]["operationType"]["$in"][0] == "insert"
        opened.append(options)
        return streams[len(opened) - 1]

    waker = ChangeStreamWaker(open_stream, retry_pause=0.001)
    task = asyncio.create_task(waker.run())
    try:
        async with asyncio.timeout(5):
            while waker.consumer.last_seq < 3:
                await waker.event.wait()
                waker.event.clear()
        assert opened == [{}, {"resume_after": token(2)}]
        assert streams[0].closed and waker.streaming and waker.failure is None
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert streams[1].closed


@pytest.mark.anyio
async def test_the_waker_gives_up_where_there_are_no_change_streams() -> None:
    async def open_stream(pipeline: list[dict[str, Any]], options: dict[str, Any]) -> EventStream:
        raise OperationFailure("unsupported aggregation stage: $changeStream", code=238)

    waker = ChangeStreamWaker(open_stream)
    await asyncio.wait_for(waker.run(), 5)
    assert waker.unsupported and not waker.streaming and waker.failure is None


@pytest.mark.anyio
async def test_an_invalidated_stream_fails_the_feed() -> None:
    stream = FakeStream([insert_event(1, seq=1), DROP, INVALIDATE], None)

    async def open_stream(pipeline: list[dict[str, Any]], options: dict[str, Any]) -> EventStream:
        return stream

    waker = ChangeStreamWaker(open_stream)
    await asyncio.wait_for(waker.run(), 5)
    assert waker.failure is not None and "dropped or renamed" in str(waker.failure)
    assert waker.event.is_set() and stream.closed
