"""List-append histories through real ``reactor serve`` processes, checked by elle.py.

Lanes (``store_kind``): ``sqlite`` is one server on a SQLite file;
``mongodb`` is *two* servers sharing one database on the jongodb wire server
(``mongodb-uri``: on a real replica set, with ``MONGODB_URI``), clients spread
over both, so that OCC across processes is what keeps the history serializable.

Every history must be free of anomalies: no cycle (G0, G1c, G2), no aborted or
intermediate read (G1a, G1b), no duplicate or lost acknowledged append, no
incompatible orders. Real-time order (strict serializability) is checked too:
on one process a mutation starts from the latest commit; see RELIABILITY.md for
what holds across processes.

Sizes: about 2,000 transactions per CI run over the lanes; ``REACTOR_LONG=1``
(or ``--long``) runs 10^6 per lane (``REACTOR_LONG_TXNS`` overrides).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from reactor_process import serve_app
from store_kinds import STORE_KINDS, fresh_database

from .elle import check, dump_history
from .history_workload import WorkloadConfig, WorkloadRun, run_workload

APP = Path(__file__).resolve().parents[1] / "apps" / "listappend"
LONG_TXNS = int(os.environ.get("REACTOR_LONG_TXNS", "1000000"))


@contextlib.contextmanager
def servers(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[list[str]]:
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
    *,
    realtime: bool,
) -> WorkloadRun:
    run = asyncio.run(run_workload(urls, config))
    result = check(run.history, realtime=realtime, final_reads=True, extra=run.extra)
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
    )
    if not result.valid:
        saved = tmp_path / "history.jsonl"
        dump_history(run.history, saved)
        pytest.fail(f"{result.summary()}\nhistory saved to {saved} (seed {config.seed})")
    return run


def sized(long_run: bool, ci: int) -> int:
    return LONG_TXNS if long_run else ci


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
        txns=sized(long_run, 1200 if sqlite else 500),
        ws_clients=12 if sqlite else 4,
        http_clients=4 if sqlite else 2,
        seed=1,
        progress=print if long_run else None,
    )
    with servers(store_kind, tmp_path, request) as urls:
        run = run_and_check(urls, config, tmp_path, report, realtime=sqlite)
    stats = run.stats
    assert stats["aborts"] > 0  # aborted transactions were tried, and never seen


@pytest.mark.parametrize("store_kind", STORE_KINDS)
def test_list_append_history_with_chaos(
    store_kind: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    long_run: bool,
    report: Callable[[str], None],
) -> None:
    """Connections cut under the clients (re-sends), clients that give up
    mid-transaction, HTTP requests that time out: exactly-once must hold."""
    sqlite = store_kind == "sqlite"
    config = WorkloadConfig(
        txns=sized(long_run, 500 if sqlite else 250),
        ws_clients=8 if sqlite else 4,
        http_clients=2 if sqlite else 1,
        chaos=True,
        seed=2,
        progress=print if long_run else None,
    )
    with servers(store_kind, tmp_path, request) as urls:
        run = run_and_check(urls, config, tmp_path, report, realtime=sqlite)
    stats = run.stats
    assert stats["connections_cut"] > 0 and stats["spanning_cuts"] > 0
