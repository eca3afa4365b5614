"""Shared snapshots, the recent-commit log live queries are checked against, and
callbacks waiting for a timestamp."""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from reactor.engine import CommitNotice, ReadSet
from reactor.storage import Snapshot

__all__ = ["NoticeLog", "SharedSnapshot", "TsWaiters"]


class SharedSnapshot:
    """One store snapshot that many query runs read at once.

    Snapshot reads are short synchronous calls, so concurrent runs can share
    one; it is closed once it is retired and its last user has released it.
    """

    __slots__ = ("_retired", "_users", "seq", "snapshot", "ts")

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.ts = snapshot.ts
        self.seq = snapshot.seq
        self._users = 0
        self._retired = False

    @property
    def in_use(self) -> bool:
        return self._users > 0

    def acquire(self) -> Snapshot:
        self._users += 1
        return self.snapshot

    async def release(self) -> None:
        self._users -= 1
        if self._retired and self._users == 0:
            await self.snapshot.close()

    async def retire(self) -> None:
        if self._retired:
            return
        self._retired = True
        if self._users == 0:
            await self.snapshot.close()


class NoticeLog:
    """Recent commits (timestamp and written keys), oldest first.

    Everything at or before ``horizon`` has been forgotten, so a question about
    an older timestamp gets the conservative answer.
    """

    def __init__(self, horizon: int, *, history: int = 1024) -> None:
        self.horizon = horizon
        self._history = history
        self._notices: deque[CommitNotice] = deque()

    def __len__(self) -> int:
        return len(self._notices)

    @property
    def latest_ts(self) -> int:
        return self._notices[-1].ts if self._notices else self.horizon

    def append(self, notices: Sequence[CommitNotice]) -> None:
        self._notices.extend(notices)

    def covers(self, ts: int) -> bool:
        """Whether every commit after ``ts`` is still in the log."""
        return ts >= self.horizon

    def _between(self, after: int, upto: int | None) -> Iterable[CommitNotice]:
        for notice in reversed(self._notices):
            if notice.ts <= after:
                return
            if upto is None or notice.ts <= upto:
                yield notice

    def touched(self, read_set: ReadSet | None, after: int, upto: int | None = None) -> bool:
        """Whether a commit in ``(after, upto]`` wrote a key ``read_set`` holds."""
        if read_set is None or not read_set:
            return False
        if not self.covers(after):
            return True
        return any(
            _resync(n) or read_set.conflicts_with(n.written) is not None
            for n in self._between(after, upto)
        )

    def resync_between(self, after: int, upto: int) -> bool:
        """Whether a commit in ``(after, upto]`` may have changed anything at all."""
        return not self.covers(after) or any(_resync(n) for n in self._between(after, upto))

    def written(self, after: int, upto: int) -> dict[str, list[bytes]]:
        """Every key written in ``(after, upto]``, per index."""
        keys: dict[str, list[bytes]] = {}
        for notice in self._between(after, upto):
            for index, written in notice.written.items():
                keys.setdefault(index, []).extend(written)
        return keys

    def trim(self, needed_after: int) -> None:
        """Forget commits at or before ``needed_after``, keeping ``history`` more for
        consistent reads at a recent timestamp (``/api/query_at_ts``)."""
        notices = self._notices
        while notices and notices[0].ts <= needed_after and len(notices) > self._history:
            self.horizon = max(self.horizon, notices.popleft().ts)


def _resync(notice: CommitNotice) -> bool:
    # A shared store's committer marks the commits it could not follow one by
    # one (it fell behind the store's commit records): anything may have changed.
    return bool(getattr(notice, "resync", False))


class TsWaiters:
    """Callbacks to call once a timestamp is reached, earliest first."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = itertools.count()  # ties never compare the callbacks

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, ts: int, callback: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (ts, next(self._seq), callback))

    def wake_until(self, ts: int) -> None:
        while self._heap and self._heap[0][0] <= ts:
            heapq.heappop(self._heap)[2]()

    def wake_all(self) -> None:
        while self._heap:
            heapq.heappop(self._heap)[2]()
