"""List-append histories through real ``reactor serve`` processes, checked by elle.py.

Lanes (``store_kind``): ``sqlite`` is one server on a SQLite file;
``mongodb`` is *two* servers sharing one database on the jongodb wire server
(``mongodb-uri``: on a real replica set, with ``MONGODB_URI``), clients spread
over both, so that OCC across processes is what keeps the history serializable.

Every history must be free of anomalies: no cycle (G0, G1c, G2), no aborted or
intermediate read (G1a, G1b), no duplicate or lost acknowledged append, no
incompatible orders, no failure that was not on purpose. Real-time order is
checked too (strict serializability): a mutation reads the latest commit (on
MongoDB the snapshot reads the shared sequencer), so one that starts after
another was acknowledged must see it, whichever process runs it.

Sizes: about 2,000 transactions per CI run over the lanes; ``REACTOR_LONG=1``
(or ``--long``) runs 10^6 per lane (``REACTOR_LONG_TXNS`` overrides; the
jongodb lane is capped at 2,000, as jongodb slows down as its data grows).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from reactor_process import serve_app
from store_kinds import STORE_KINDS, fresh_database

from reactor.storage import Snapshot, StoreError
from reactor.sync import exactly_once, outcome_of
from reactor.testing import ReactorTest

from .elle import check, dump_history
from .history_workload import WorkloadConfig, WorkloadRun, run_workload

APP = Path(__file__).resolve().parents[1] / "apps" / "listappend"
LONG_TXNS = int(os.environ.get("REACTOR_LONG_TXNS", "1000000"))
JONGODB_LONG_TXNS = 2000


@contextlib.contextmanager
def servers(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """One server on SQLite; two sharing one MongoDB database."""
    if store_kind == "sqlite":
        with serve_app(APP, tmp_path) as url:
            yield [url]
        return
    lane = "uri" if store_kind == "mongodb-uri" else "jongodb"
    for uri, name in fresh_database(request, lane):
        db = _with_database(uri, name)
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        with serve_app(APP, tmp_path / "a", db=db) as a, serve_app(APP, tmp_path / "b", db=db) as b:
            yield [a, b]


def _with_database(uri: str, name: str) -> str:
    """``uri`` naming database ``name`` (its options kept)."""
    base, _, query = uri.partition("?")
    scheme, _, rest = base.partition("://")
    hosts = rest.split("/", 1)[0]
    return f"{scheme}://{hosts}/{name}" + (f"?{query}" if query else "")


def run_and_check(
    urls: list[str],
    config: WorkloadConfig,
    tmp_path: Path,
    report: Callable[[str], None],
) -> WorkloadRun:
    run = asyncio.run(run_workload(urls, config))
    complete = run.final_read_error is None  # else some keys have no final read
    result = check(run.history, realtime=True, final_reads=complete, extra=run.extra)
    stats = {**result.stats, **run.stats}
    report(
        f"{stats['txns']} txns checked ({stats['ok']} ok, {stats['fail']} fail, "
        f"{stats['info']} info, of which {stats['info_committed']} seen committed), "
        f"{stats['keys']} keys, edges ww={stats['edges_ww']} wr={stats['edges_wr']} "
        f"rw={stats['edges_rw']}, anomalies: {dict(result.counts) or 'none'}; "
        f"{stats['seconds']} s, {stats['txns_per_s']}/s"
        + (
            f"; chaos: {stats['connections_cut']} connections cut, "
            f"{stats['spanning_cuts']} mutations spanned a cut, "
            f"{stats['abandoned']} abandoned, {stats['http_timeouts']} HTTP timeouts"
            if config.chaos
            else ""
        )
        + (f"; unexpected failures: {dict(run.failures)}" if run.failures else "")
    )
    problems = []
    if not result.valid:
        problems.append(result.summary())
    if run.failures:
        problems.append(f"transactions failed, not on purpose: {dict(run.failures)}")
    if run.final_read_error:
        problems.append(run.final_read_error)
    if problems:
        saved = tmp_path / "history.jsonl"
        dump_history(run.history, saved)
        (tmp_path / "transports.json").write_text(json.dumps(run.transports))
        message = "\n".join(problems) + f"\nhistory saved to {saved} (seed {config.seed})"
        pytest.fail(message)
    return run


def sized(store_kind: str, long_run: bool, ci: int) -> int:
    if not long_run:
        return ci
    # jongodb scans whole collections even for indexed queries, so it slows
    # down as the store grows: its long run is capped (a real replica set is not).
    return min(LONG_TXNS, JONGODB_LONG_TXNS) if store_kind == "mongodb" else LONG_TXNS


@pytest.mark.parametrize("store_kind", STORE_KINDS)
def test_list_append_history(
    store_kind: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    long_run: bool,
    report: Callable[[str], None],
) -> None:
    sqlite = store_kind == "sqlite"
    config = WorkloadConfig(
        txns=sized(store_kind, long_run, 800 if sqlite else 300),
        ws_clients=10 if sqlite else 3,
        http_clients=4 if sqlite else 2,
        seed=1,
        progress=print if long_run else None,
    )
    with servers(store_kind, tmp_path, request) as urls:
        run = run_and_check(urls, config, tmp_path, report)
    assert run.stats["aborts"] > 0  # aborted transactions were tried, and never seen


@pytest.mark.parametrize("store_kind", STORE_KINDS)
def test_list_append_history_with_chaos(
    store_kind: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    long_run: bool,
    report: Callable[[str], None],
) -> None:
    """Connections cut under the clients (re-sends; with two servers, a re-send
    may reach the other one), clients that give up mid-transaction, HTTP
    requests that time out: the history must stay clean, exactly-once included."""
    sqlite = store_kind == "sqlite"
    config = WorkloadConfig(
        txns=sized(store_kind, long_run, 800 if sqlite else 150),
        ws_clients=8 if sqlite else 3,
        http_clients=2 if sqlite else 1,
        chaos=True,
        seed=2,
        progress=print if long_run else None,
    )
    with servers(store_kind, tmp_path, request) as urls:
        run = run_and_check(urls, config, tmp_path, report)
    assert run.stats["connections_cut"] > 0 and run.stats["spanning_cuts"] > 0


@pytest.mark.anyio
async def test_resent_mutation_is_not_failed_by_an_internal_error(tmp_path: Path) -> None:
    """Regression test for finding 3, on SQLite: a mutation commits under
    (session s, request 0); the client re-sends it (the answer was lost), and the
    re-run hits a transient storage error before it finds the record. The client
    must not be told "failed": storage errors re-run the mutation (SEMANTICS.md
    FN-11, ERR-04); one that persists closes the connection instead
    (``test_internal_errors.py``), so that the client re-sends it."""
    test = ReactorTest(APP, data_dir=tmp_path)
    try:
        engine = await test.engine()
        args = {"token": "t0", "writer": "w"}
        first = await engine.run_mutation("crash:write", args, hook=exactly_once("s", 0))
        assert first.error is None
        store = engine.store
        calls = 0

        def flaky(take: Callable[[], Awaitable[Snapshot]]) -> Callable[[], Awaitable[Snapshot]]:
            async def snapshot() -> Snapshot:
                nonlocal calls
                calls += 1
                if calls == 1:
                    raise StoreError("a transient storage error (injected)")
                return await take()

            return snapshot

        with pytest.MonkeyPatch.context() as patch:
            for name in ("snapshot", "reusable_snapshot"):
                patch.setattr(store, name, flaky(getattr(store, name)))
            resent = await engine.run_mutation("crash:write", args, hook=exactly_once("s", 0))
        assert calls >= 1, "the injected fault was not reached"
        answer = outcome_of(resent, dev_errors=True)
        assert answer.success, f"the re-sent, committed mutation was answered: {answer.value}"
        assert answer.value == "t0"
    finally:
        await test.close()
