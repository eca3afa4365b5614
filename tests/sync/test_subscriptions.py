"""Shared live queries on a real engine and SQLite file, without sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from reactor.engine import Engine
from reactor.functions import load_app
from reactor.storage import SqliteStore
from reactor.sync import LiveQueries, QueryAtTsError, Subscription

pytestmark = pytest.mark.anyio


@pytest.fixture
async def engine(apps_dir: Path, tmp_path: Path) -> AsyncIterator[Engine]:
    engine = Engine(load_app(apps_dir / "live"), SqliteStore(tmp_path / "data.db"))
    await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()


@pytest.fixture
async def live(engine: Engine) -> AsyncIterator[LiveQueries]:
    live = LiveQueries(engine)
    await live.start()
    try:
        yield live
    finally:
        await live.stop()


class Watcher:
    """Collects change notifications; ``changed()`` waits for the next one."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def __call__(self) -> None:
        self.event.set()

    async def changed(self) -> None:
        await self.event.wait()
        self.event.clear()


def value(subscription: Subscription) -> Any:
    result = subscription.result
    assert result is not None
    return result.outcome.value


async def send(engine: Engine, body: str, channel: str = "c") -> int:
    result = await engine.run_mutation("messages:send", {"channel": channel, "body": body})
    assert result.error is None and result.ts is not None
    return result.ts


async def first_result(
    live: LiveQueries, path: str, args: dict[str, Any], **kw: Any
) -> Subscription:
    watcher = Watcher()
    subscription = live.subscribe(path, args, on_change=watcher, **kw)
    if subscription.result is None:  # else it joined a live query that has one
        await watcher.changed()
    return subscription


async def test_identical_queries_share_one_result(live: LiveQueries) -> None:
    a = await first_result(live, "messages:list", {"channel": "c"})
    b = await first_result(live, "messages.js:list", {"channel": "c"})  # the same function
    assert a.result is b.result
    assert live.stats()["live_queries"] == 1
    live.unsubscribe(a)
    assert live.stats()["live_queries"] == 1
    live.unsubscribe(b)
    assert live.stats()["live_queries"] == 0


async def test_a_commit_reruns_only_what_it_touched(engine: Engine, live: LiveQueries) -> None:
    watch_c, watch_d = Watcher(), Watcher()
    on_c = live.subscribe("messages:list", {"channel": "c"}, on_change=watch_c)
    on_d = live.subscribe("messages:list", {"channel": "d"}, on_change=watch_d)
    await watch_c.changed()
    await watch_d.changed()
    before_d, runs = on_d.result, live.runs
    ts = await send(engine, "hi")
    await watch_c.changed()
    assert [row["body"] for row in value(on_c)] == ["hi"]
    assert live.processed_ts >= ts
    assert on_d.result is before_d  # not touched: not re-run, not changed
    assert live.runs == runs + 1


async def test_unchanged_results_keep_their_object(engine: Engine, live: LiveQueries) -> None:
    counter = await first_result(live, "counters:get", {"name": "x"})
    before = counter.result
    # Touches the query's read range (a miss on "x"), leaves its result the same.
    await engine.run_mutation("counters:increment", {"name": "y"})
    while live.processed_ts < engine.committer.last_ts:
        await live.wait_processed(engine.committer.last_ts)
    assert counter.result is before


async def test_results_of_one_batch_move_together(engine: Engine, live: LiveQueries) -> None:
    subs = [await first_result(live, f"tables:list_{t}", {}) for t in "abc"]
    seen: list[tuple[int, ...]] = []

    def check() -> None:
        # Whenever anything changes, every result is valid at processed_ts:
        # a and b are always written together, so they always have equal length.
        values = [value(s) for s in subs]
        assert len(values[0]) == len(values[1])
        seen.append((live.processed_ts, len(values[0]), len(values[2])))

    for s in subs:
        s.on_change = check
    await asyncio.gather(
        *(engine.run_mutation("tables:write", {"tables": ["a", "b"], "n": i}) for i in range(20))
    )
    await live.wait_processed(engine.committer.last_ts)
    assert len(value(subs[0])) == len(value(subs[1])) == 20
    assert value(subs[2]) == []
    assert seen


async def test_a_first_run_overlapping_a_commit_is_run_again(
    engine: Engine, live: LiveQueries
) -> None:
    gates = engine.app.modules["gates"]
    watcher = Watcher()
    subscription = live.subscribe("gates:gated_list", {"channel": "c"}, on_change=watcher)
    await gates.entered.wait()  # the first run has read the (empty) channel
    await send(engine, "late")  # committed after that run's snapshot
    await live.wait_processed(engine.committer.last_ts)
    gates.gate.set()
    await watcher.changed()
    assert value(subscription) == ["late"]  # the stale first result was never published


async def test_subscribe_unsubscribe_cycles_leave_nothing(live: LiveQueries) -> None:
    for i in range(10_000):
        subscription = live.subscribe("messages:list", {"channel": f"c{i % 7}"})
        live.unsubscribe(subscription)
    await live.settle()
    assert live.stats() == {**live.stats(), "live_queries": 0, "indexed": 0, "tasks": 0}
    assert live.stats()["intervals"] == 0


async def test_queries_that_do_not_read_auth_are_shared_across_users(live: LiveQueries) -> None:
    alice, bob = {"subject": "alice"}, {"subject": "bob"}
    lists = [
        await first_result(live, "messages:list", {"channel": "c"}, identity=i)
        for i in (alice, bob)
    ]
    assert lists[0].result is lists[1].result
    whoami = [await first_result(live, "messages:whoami", {}, identity=i) for i in (alice, bob)]
    assert [value(w) for w in whoami] == [alice, bob]
    assert live.stats()["live_queries"] == 3


async def test_paginated_query_keeps_its_page_end(engine: Engine, live: LiveQueries) -> None:
    for body in ("m1", "m2", "m3"):
        await send(engine, body)
    watcher = Watcher()
    args = {"channel": "c", "paginationOpts": {"numItems": 2.0, "cursor": None}}
    page = live.subscribe("messages:page_desc", args, on_change=watcher)
    await watcher.changed()
    assert [row["body"] for row in value(page)["page"]] == ["m3", "m2"]
    assert page.result is not None and page.result.outcome.journal is not None
    await send(engine, "m4")  # sorts first, inside the pinned page
    await watcher.changed()
    # The page grew past numItems instead of dropping m2: its end is pinned.
    assert [row["body"] for row in value(page)["page"]] == ["m4", "m3", "m2"]


async def test_query_at_a_timestamp(engine: Engine, live: LiveQueries) -> None:
    ts = await send(engine, "one")
    await live.wait_processed(ts)
    result = await live.run_query_at("messages:list", {"channel": "c"}, live.processed_ts, None)
    assert [row["body"] for row in result.value] == ["one"]
    other = await send(engine, "elsewhere", channel="d")
    await live.wait_processed(other)
    # Nothing the query read changed since ts: the latest snapshot answers for it.
    result = await live.run_query_at("messages:list", {"channel": "c"}, ts, None)
    assert [row["body"] for row in result.value] == ["one"]
    later = await send(engine, "two")
    await live.wait_processed(later)
    with pytest.raises(QueryAtTsError, match="changed after"):
        await live.run_query_at("messages:list", {"channel": "c"}, ts, None)
    with pytest.raises(QueryAtTsError, match="newer"):
        await live.run_query_at("messages:list", {"channel": "c"}, later + 10**9, None)


async def test_a_shared_query_that_starts_reading_auth_is_split(
    engine: Engine, live: LiveQueries
) -> None:
    watchers = [Watcher(), Watcher()]
    subs = [
        live.subscribe("messages:greeting", {}, identity={"subject": who}, on_change=w)
        for who, w in zip(("alice", "bob"), watchers, strict=True)
    ]
    for w in watchers:
        if not w.event.is_set():
            await w.changed()
        w.event.clear()
    assert subs[0].result is subs[1].result  # did not read auth: one result for both
    assert value(subs[0]) == "hello"
    await send(engine, "open", channel="auth")
    for w in watchers:
        await w.changed()
    assert [value(s) for s in subs] == ["hello alice", "hello bob"]
    assert live.stats()["live_queries"] == 2


async def test_refresh_all_reruns_every_live_query(engine: Engine, live: LiveQueries) -> None:
    await first_result(live, "messages:list", {"channel": "c"})
    await first_result(live, "tables:list_a", {})
    runs = live.runs
    await live.refresh_all()
    assert live.runs == runs + 2


async def test_one_refresh_delivers_its_changes_together(engine: Engine) -> None:
    """The callbacks of every subscription a commit changed are handed over at once
    (the server writes their frames under one clock), then the runs are reported."""
    events: list[object] = []

    def deliver(callbacks: Any) -> None:
        events.append(("deliver", len(callbacks)))
        for callback in callbacks:
            callback()

    live = LiveQueries(
        engine, deliver=deliver, on_run=lambda result: events.append(("ran", result.path))
    )
    await live.start()
    try:
        a = await first_result(live, "messages:list", {"channel": "c"})
        b = await first_result(live, "messages:list", {"channel": "c"})
        await first_result(live, "counters:get", {"name": "x"})
        watchers = [Watcher(), Watcher()]
        a.on_change, b.on_change = watchers
        events.clear()
        await send(engine, "hello")
        for watcher in watchers:
            await watcher.changed()
        # Two subscribers of one query changed; the counter was not touched.
        assert events == [("deliver", 2), ("ran", "messages:list")]
    finally:
        await live.stop()
