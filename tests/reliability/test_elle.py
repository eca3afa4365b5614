"""The list-append checker (elle.py) on hand-made histories: it must catch each
anomaly, and pass valid ones. Then on histories from simulated databases: a
serializable one (valid), snapshot isolation (write skew: G2), a store whose
appends are read-modify-writes without conflict checks (lost updates) and one
that shows uncommitted writes (G1a)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from .elle import Anomaly, CheckResult, Txn, check, dump_history, load_history


def h(*txns: tuple[str, Sequence[tuple[str, int, Any]]]) -> list[Txn]:
    """A history from (type, ops) pairs; reads take a list; times are serial."""
    history = []
    for i, (kind, ops) in enumerate(txns):
        frozen = tuple((f, k, tuple(v) if isinstance(v, list) else v) for f, k, v in ops)
        complete = None if kind == "info" else 2.0 * i + 1
        history.append(Txn(i, i, kind, frozen, invoke=2.0 * i, complete=complete))  # type: ignore[arg-type]
    return history


def a(k: int, v: int) -> tuple[str, int, int]:
    return ("append", k, v)


def r(k: int, values: Sequence[int] | None) -> tuple[str, int, Any]:
    return ("r", k, values)


def kinds(result: CheckResult) -> set[str]:
    return result.kinds()


# -- valid histories -------------------------------------------------------------------


def test_serial_history_is_valid() -> None:
    history = h(
        ("ok", [a(1, 1), r(2, [])]),
        ("ok", [r(1, [1]), a(1, 2), a(2, 1)]),
        ("ok", [r(1, [1, 2]), r(2, [1]), a(2, 2), r(2, [1, 2])]),
        ("fail", [a(1, 3)]),
        ("info", [a(2, 3)]),  # committed (the final read has it): fine
        ("info", [a(1, 4)]),  # never seen: fine too
        ("ok", [r(1, [1, 2]), r(2, [1, 2, 3])]),
    )
    result = check(history, realtime=True, final_reads=True)
    assert result.valid, result.summary()
    assert result.stats["info_committed"] == 1
    assert result.stats["edges_ww"] >= 3 and result.stats["edges_wr"] >= 2


def test_concurrent_but_serializable_history_is_valid() -> None:
    # T1 and T2 overlap in time; T2 reads before T1's append: T2 -> T1 (rw).
    history = [
        Txn(0, 0, "ok", (a(1, 1),), invoke=0.0, complete=3.0),
        Txn(1, 1, "ok", (r(1, ()), a(2, 1)), invoke=1.0, complete=2.0),
        Txn(2, 2, "ok", (r(1, (1,)), r(2, (1,))), invoke=4.0, complete=5.0),
    ]
    assert check(history, realtime=True, final_reads=True).valid


# -- each anomaly ----------------------------------------------------------------------


def test_g0_write_cycle() -> None:
    history = h(
        ("ok", [a(1, 1), a(2, 2)]),
        ("ok", [a(1, 3), a(2, 4)]),
        ("ok", [r(1, [1, 3]), r(2, [4, 2])]),
    )
    result = check(history)
    assert kinds(result) == {"G0"}, result.summary()
    (anomaly,) = result.anomalies
    assert set(anomaly.txns) == {0, 1}
    assert anomaly.detail.count("-ww->") == 2


def test_g1c_circular_information_flow() -> None:
    history = h(
        ("ok", [a(1, 1), r(2, [2])]),
        ("ok", [a(2, 2), r(1, [1])]),
    )
    result = check(history)
    assert kinds(result) == {"G1c"}, result.summary()
    assert "-wr->" in result.anomalies[0].detail


def test_g2_write_skew() -> None:
    history = h(
        ("ok", [r(1, []), a(2, 1)]),
        ("ok", [r(2, []), a(1, 1)]),
        ("ok", [r(1, [1]), r(2, [1])]),
    )
    result = check(history, final_reads=True)
    assert kinds(result) == {"G2"}, result.summary()
    assert "(2 rw edges)" in result.anomalies[0].detail


def test_g2_read_skew_single_anti_dependency() -> None:
    history = h(
        ("ok", [a(1, 1), a(2, 1)]),
        ("ok", [r(1, []), r(2, [1])]),
        ("ok", [r(1, [1]), r(2, [1])]),
    )
    result = check(history)
    assert kinds(result) == {"G2"}, result.summary()
    assert "(1 rw edge)" in result.anomalies[0].detail


def test_g1a_aborted_read() -> None:
    history = h(("fail", [a(1, 1)]), ("ok", [r(1, [1])]))
    result = check(history)
    assert kinds(result) == {"G1a"}, result.summary()
    assert result.anomalies[0].txns == (0, 1)


def test_g1b_intermediate_read() -> None:
    history = h(("ok", [a(1, 1), a(1, 2)]), ("ok", [r(1, [1])]), ("ok", [r(1, [1, 2])]))
    result = check(history)
    assert kinds(result) == {"G1b"}, result.summary()


def test_duplicate_append() -> None:
    history = h(("ok", [a(1, 1)]), ("ok", [a(1, 2)]), ("ok", [r(1, [1, 2, 1])]))
    assert "duplicate" in kinds(check(history))


def test_lost_acknowledged_append() -> None:
    history = h(("ok", [a(1, 1)]), ("ok", [a(1, 2)]), ("ok", [r(1, [2])]))
    result = check(history, final_reads=True)
    assert kinds(result) == {"lost-append"}, result.summary()
    assert check(history).valid  # without final reads, it might just not be seen yet


def test_incompatible_orders() -> None:
    history = h(
        ("ok", [a(1, 1)]),
        ("ok", [a(1, 2)]),
        ("ok", [r(1, [1, 2])]),
        ("ok", [r(1, [2, 1])]),
    )
    assert "incompatible-order" in kinds(check(history))


def test_garbage_read() -> None:
    assert kinds(check(h(("ok", [r(1, [7])])))) == {"garbage"}


def test_internal_inconsistency() -> None:
    history = h(("ok", [r(1, []), a(1, 1), r(1, [])]), ("ok", [r(1, [1])]))
    assert kinds(check(history)) == {"internal"}
    history = h(("ok", [a(1, 1), r(1, [2])]), ("ok", [a(1, 2)]), ("ok", [r(1, [2, 1])]))
    assert "internal" in kinds(check(history))
    future = h(("ok", [r(1, [1]), a(1, 1)]))  # saw its own append before making it
    assert "internal" in kinds(check(future))


def test_realtime_violation_only_with_realtime_edges() -> None:
    # T0 committed its append and returned before T1 started; T1 did not see it.
    history = h(("ok", [a(1, 1)]), ("ok", [r(1, [])]), ("ok", [r(1, [1])]))
    assert check(history).valid
    result = check(history, realtime=True)
    assert kinds(result) == {"G2-realtime"}, result.summary()
    assert "-rt->" in result.anomalies[0].detail


def test_info_transactions_are_not_aborted() -> None:
    history = h(("info", [a(1, 1)]), ("ok", [r(1, [1])]))
    assert check(history, realtime=True, final_reads=True).valid


def test_extra_anomalies_are_reported() -> None:
    extra = [Anomaly("split-key", (0,), "key 1 has 2 rows")]
    result = check(h(("ok", [r(1, [])])), extra=extra)
    assert kinds(result) == {"split-key"}


def test_history_file_round_trip(tmp_path: Path) -> None:
    history = h(("ok", [a(1, 1), r(1, [1])]), ("info", [a(2, 1), r(2, None)]), ("fail", [a(1, 2)]))
    dump_history(history, tmp_path / "h.jsonl")
    assert load_history(tmp_path / "h.jsonl") == history


def test_duplicate_values_in_the_workload_are_refused() -> None:
    with pytest.raises(ValueError, match="not unique"):
        check(h(("ok", [a(1, 1)]), ("ok", [a(1, 1)])))


# -- simulated databases ------------------------------------------------------------


def simulate(isolation: str, txns: int, seed: int) -> list[Txn]:
    """Run random list-append transactions against an in-memory database.

    Rounds of 1-4 concurrent transactions all start from the same state;
    each then commits in a random order:

    * ``serializable``: a transaction that read or wrote a key another one
      of its round committed first aborts (``fail``): OCC;
    * ``snapshot``: only a write-write overlap aborts (first committer wins);
    * ``lost-update``: nothing aborts; an append writes back the list it read;
    * ``dirty``: like serializable, but an aborted transaction's appends stay.
    """
    rng = random.Random(seed)
    state: dict[int, list[int]] = {}
    counter: dict[int, int] = {}
    history: list[Txn] = []
    clock = 0.0
    while len(history) < txns:
        round_size = rng.randint(1, 4)
        start = {k: list(v) for k, v in state.items()}
        plans = []
        for _ in range(round_size):
            ops: list[tuple[str, int, Any]] = []
            for _ in range(rng.randint(1, 4)):
                key = rng.randint(1, 5)
                if rng.random() < 0.5:
                    counter[key] = counter.get(key, 0) + 1
                    ops.append(("append", key, counter[key]))
                else:
                    ops.append(("r", key, None))
            plans.append(ops)
        order = list(range(round_size))
        rng.shuffle(order)
        committed_keys: set[int] = set()
        written_keys: set[int] = set()
        for i in order:
            view = {k: list(v) for k, v in start.items()}
            done: list[tuple[str, int, Any]] = []
            for f, k, v in plans[i]:
                if f == "append":
                    view.setdefault(k, []).append(v)
                    done.append((f, k, v))
                else:
                    done.append((f, k, tuple(view.get(k, []))))
            touched = {k for _, k, _ in plans[i]}
            writes = {k for f, k, _ in plans[i] if f == "append"}
            if isolation in ("serializable", "dirty"):
                aborted = bool(touched & committed_keys)
            elif isolation == "snapshot":
                aborted = bool(writes & written_keys)
            else:
                aborted = False
            if aborted:
                if isolation == "dirty":
                    for f, k, v in plans[i]:
                        if f == "append":
                            state.setdefault(k, []).append(v)
                history.append(Txn(len(history), i, "fail", tuple(plans[i]), clock, clock + 1))
                continue
            for k in writes:
                if isolation == "lost-update":
                    state[k] = view[k]  # blind write-back of what it read plus its own
                else:
                    ours = [v for f, kk, v in plans[i] if f == "append" and kk == k]
                    state.setdefault(k, []).extend(ours)
            committed_keys |= touched
            written_keys |= writes
            history.append(Txn(len(history), i, "ok", tuple(done), clock, clock + 1))
        clock += 2
    final = tuple(("r", k, tuple(v)) for k, v in sorted(state.items()))
    history.append(Txn(len(history), 99, "ok", final, clock, clock + 1))
    return history


@pytest.mark.parametrize("seed", range(3))
def test_simulated_serializable_database_is_valid(seed: int) -> None:
    result = check(simulate("serializable", 2000, seed), realtime=True, final_reads=True)
    assert result.valid, result.summary()
    assert result.stats["ok"] > 1000 and result.stats["edges_rw"] > 100


def test_simulated_snapshot_isolation_shows_write_skew() -> None:
    result = check(simulate("snapshot", 2000, 1), final_reads=True)
    assert "G2" in kinds(result), result.summary()
    assert kinds(result) <= {"G2"}, result.summary()


def test_simulated_lost_updates_are_caught() -> None:
    result = check(simulate("lost-update", 500, 1), final_reads=True)
    assert kinds(result) & {"lost-append", "incompatible-order"}, result.summary()


def test_simulated_dirty_aborts_are_caught() -> None:
    result = check(simulate("dirty", 500, 1), final_reads=True)
    assert "G1a" in kinds(result), result.summary()
