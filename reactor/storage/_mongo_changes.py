"""Change streams on the commits collection, used only as a low-latency wake-up.

The commit records are the truth: a feed always re-reads them after a wake-up,
so a lost, duplicated or reordered event costs latency, never correctness. That
is why a stream whose resume point is gone simply restarts from now: the feed
re-reads the collection as soon as the new stream is open.

``ChangeStreamConsumer`` is Sans-I/O: it is fed change events (MongoDB's
documented shape: ``_id`` resume token, ``operationType``, ``clusterTime``,
``documentKey``, ``fullDocument``, ``lsid``/``txnNumber`` for transactions) and
errors, and answers what to do. ``ChangeStreamWaker`` is the thin I/O loop
around it, given a function that opens a stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pymongo.errors import PyMongoError

from reactor.storage._errors import StoreError

__all__ = [
    "ChangeStreamConsumer",
    "ChangeStreamWaker",
    "ErrorAction",
    "EventStream",
    "Invalidate",
    "OpenStream",
    "Wake",
]

ErrorAction = Literal["resume", "restart", "poll"]
"""After an error: reopen with ``resumeAfter``; reopen from now; give up on streams."""

# NotImplemented (jongodb), CommandNotSupported, IllegalOperation, "only supported
# on replica sets", "unrecognized pipeline stage": this server has no change streams.
_UNSUPPORTED_CODES = frozenset({238, 115, 20, 40573, 40324})
# ChangeStreamHistoryLost, ChangeStreamFatalError, InvalidResumeToken: the resume
# point is unusable, so start a new stream.
_LOST_CODES = frozenset({286, 280, 260})
_WATCHED = ["insert", "drop", "rename", "dropDatabase", "invalidate"]


@dataclass(frozen=True, slots=True)
class Wake:
    """New commit records may be there; ``seq`` is the one this event names, if known."""

    seq: int | None


@dataclass(frozen=True, slots=True)
class Invalidate:
    """The stream is closed for good: the commits collection was dropped or renamed."""

    reason: str


class ChangeStreamConsumer:
    def __init__(self) -> None:
        self.resume_token: Mapping[str, Any] | None = None
        self.last_seq = 0
        """The highest seq an insert event named."""

    @staticmethod
    def pipeline() -> list[dict[str, Any]]:
        # The written keys are read from the collection anyway: do not ship them twice.
        return [
            {"$match": {"operationType": {"$in": _WATCHED}}},
            {"$project": {"fullDocument.written": 0}},
        ]

    def watch_options(self) -> dict[str, Any]:
        return {} if self.resume_token is None else {"resume_after": self.resume_token}

    def handle(self, event: Mapping[str, Any]) -> Wake | Invalidate | None:
        operation = event.get("operationType")
        if operation == "invalidate":
            # resumeAfter cannot pass an invalidate; and the store is gone anyway.
            self.resume_token = None
            return Invalidate("the commits collection was dropped or renamed")
        token = event.get("_id")
        if isinstance(token, Mapping):
            self.resume_token = token
        if operation != "insert":
            return None  # drop / rename / dropDatabase: an invalidate follows
        document = event.get("fullDocument") or event.get("documentKey") or {}
        seq = document.get("_id")
        if isinstance(seq, int) and not isinstance(seq, bool):
            self.last_seq = max(self.last_seq, seq)
            return Wake(seq)
        return Wake(None)

    def on_error(self, exc: BaseException) -> ErrorAction:
        code = getattr(exc, "code", None)
        text = str(exc).lower()
        if code in _UNSUPPORTED_CODES or ("$changestream" in text and "unsupported" in text):
            return "poll"
        if code in _LOST_CODES:
            self.resume_token = None
            return "restart"
        return "resume"


class EventStream(Protocol):
    """What ``AsyncCollection.watch`` returns, as far as the waker uses it."""

    def __aiter__(self) -> AsyncIterator[Mapping[str, Any]]: ...

    async def close(self) -> None: ...


OpenStream = Callable[[list[dict[str, Any]], dict[str, Any]], Awaitable[EventStream]]


class ChangeStreamWaker:
    """Sets ``event`` whenever the commits collection may hold new records.

    ``streaming`` tells the feed whether it can rely on wake-ups (and poll
    rarely) or must poll often; ``failure`` is set when the stream can never
    deliver again (invalidated); ``unsupported`` when the server has no streams.
    """

    def __init__(
        self, open_stream: OpenStream, *, retry_pause: float = 0.1, max_pause: float = 5.0
    ) -> None:
        self.consumer = ChangeStreamConsumer()
        self.event = asyncio.Event()
        self.streaming = False
        self.unsupported = False
        self.failure: StoreError | None = None
        self._open = open_stream
        self._retry_pause = retry_pause
        self._max_pause = max_pause

    async def run(self) -> None:
        pause = self._retry_pause
        while True:
            try:
                stream = await self._open(self.consumer.pipeline(), self.consumer.watch_options())
            except StoreError as exc:  # the store closed under us
                self.failure = exc
                self.event.set()
                return
            except PyMongoError as exc:
                if self._give_up(exc):
                    return
                await asyncio.sleep(pause)
                pause = min(pause * 2, self._max_pause)
                continue
            try:
                self.streaming = True
                self.event.set()  # commits may have landed while no stream was open
                async for event in stream:
                    pause = self._retry_pause
                    action = self.consumer.handle(event)
                    if isinstance(action, Invalidate):
                        self.failure = StoreError(
                            f"the commit feed's change stream ended: {action.reason}"
                        )
                        return
                    if action is not None:
                        self.event.set()
            except PyMongoError as exc:
                if self._give_up(exc):
                    return
                await asyncio.sleep(pause)
                pause = min(pause * 2, self._max_pause)
            finally:
                self.streaming = False
                if self.failure is not None:
                    self.event.set()
                await stream.close()

    def _give_up(self, exc: PyMongoError) -> bool:
        self.streaming = False
        if self.consumer.on_error(exc) != "poll":
            return False
        self.unsupported = True
        self.event.set()
        return True
