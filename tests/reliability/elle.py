"""An Elle-style checker for list-append histories (Kingsbury & Alvaro, "Elle").

The workload: every key holds a list; a transaction is a few micro-ops,
``("append", k, v)`` (``v`` unique per key) and ``("r", k, values)`` (the whole
list). A history is the list of completed transactions, each ``ok`` (committed,
reads known), ``fail`` (certainly did not commit) or ``info`` (unknown: the
client lost track of it). Because a read returns a whole list, it reveals the
order in which the appends it contains were applied: the *version order*.

What ``check`` does:

1. **Version order.** For each key, the longest list ever read is the order.
   Every other read must be a prefix of it (``incompatible-order``
   otherwise). With ``final_reads=True`` (a read of every key after the load
   stopped) the order is the key's final state, so an acknowledged append
   missing from it was lost (``lost-append``).
2. **Per-read checks.** A value twice in one list (``duplicate``), a value no
   transaction appended (``garbage``), a value appended by a failed
   transaction (``G1a``, aborted read), a read whose last value is not its
   writer's last append to that key (``G1b``, intermediate read), a read
   inside a transaction that disagrees with that transaction's own earlier
   reads and appends (``internal``), a key stored in two rows (``split-key``,
   reported by the workload itself; see ``Anomaly``).
3. **Dependency graph** over committed transactions (``ok``, plus ``info``
   ones whose appends were seen: those committed, with unknown reads):

   * ``ww``: T1 appended the value just before T2's value in a key's order;
   * ``wr``: T2 read a list whose last value T1 appended;
   * ``rw`` (anti-dependency): T1 read a list to which T2 appended the next
     value, so T1 did not see T2's append;
   * ``rt`` (optional, ``realtime=True``): T1 completed before T2 was invoked.
     Encoded through a chain of time nodes, so it costs O(n) edges.

4. **Cycles.** Tarjan's strongly connected components, then, in each
   component, the weakest class with a cycle and a witness cycle found by BFS:
   ``G0`` (ww edges only: dirty write), ``G1c`` (ww and wr: circular
   information flow), ``G2`` (at least one rw: anti-dependency cycle; the
   witness says how many), and ``G0-realtime`` ... ``G2-realtime`` when only
   real-time edges close the cycle (serializable, but not strictly).

All of this is linear in the history apart from sorting. Histories are plain
data; ``dump_history`` / ``load_history`` keep one as JSON lines, and
``python tests/reliability/elle.py HISTORY.jsonl [--realtime] [--final-reads]``
checks a saved one.
"""

from __future__ import annotations

import bisect
import gc
import json
import sys
from array import array
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

__all__ = [
    "Anomaly",
    "CheckResult",
    "MicroOp",
    "Txn",
    "check",
    "dump_history",
    "load_history",
]

TxnType = Literal["ok", "fail", "info"]
MicroOp = tuple[str, int, Any]
"""``("append", key, value)`` or ``("r", key, tuple_of_values | None)``."""

WW, WR, RW, RT = 1, 2, 4, 8
_EDGE_NAMES = {WW: "ww", WR: "wr", RW: "rw", RT: "rt"}
_PREFERENCE = (WW, WR, RW, RT)  # labels for a witness step, weakest dependency first
_MAX_REPORTED = 20  # of each anomaly kind, so a broken run stays readable

_Slots: TypeAlias = "array[int] | dict[int, int]"


@dataclass(slots=True)
class Txn:
    """One transaction of a history.

    ``index`` is its position (unique); ``process`` the client that ran it.
    ``invoke`` / ``complete`` are monotonic times (seconds; ``complete`` is None
    for ``info``), needed only for real-time edges.
    """

    index: int
    process: int
    type: TxnType
    ops: tuple[MicroOp, ...]
    invoke: float | None = None
    complete: float | None = None


@dataclass(frozen=True, slots=True)
class Anomaly:
    kind: str
    txns: tuple[int, ...]
    """History indices of the transactions involved (a cycle's, in order)."""
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


@dataclass
class CheckResult:
    anomalies: list[Anomaly] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    """How many of each anomaly kind (``anomalies`` keeps the first few of each)."""
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.counts

    def add(self, anomaly: Anomaly) -> None:
        count = self.counts.get(anomaly.kind, 0)
        self.counts[anomaly.kind] = count + 1
        if count < _MAX_REPORTED:
            self.anomalies.append(anomaly)

    def kinds(self) -> set[str]:
        return set(self.counts)

    def summary(self) -> str:
        stats = ", ".join(f"{k}={v}" for k, v in self.stats.items())
        if self.valid:
            return f"valid ({stats})"
        lines = [f"{sum(self.counts.values())} anomalies {dict(self.counts)} ({stats})"]
        lines += [f"  {a}" for a in self.anomalies]
        return "\n".join(lines)


# -- history files -----------------------------------------------------------------


def dump_history(history: Iterable[Txn], path: Path) -> None:
    with path.open("w") as f:
        for t in history:
            ops = [[fn, k, list(v) if isinstance(v, tuple) else v] for fn, k, v in t.ops]
            record = [t.index, t.process, t.type, ops, t.invoke, t.complete]
            f.write(json.dumps(record, separators=(",", ":")) + "\n")


def load_history(path: Path) -> list[Txn]:
    history = []
    with path.open() as f:
        for line in f:
            index, process, kind, raw_ops, invoke, complete = json.loads(line)
            ops = tuple((fn, k, tuple(v) if isinstance(v, list) else v) for fn, k, v in raw_ops)
            history.append(Txn(index, process, kind, ops, invoke, complete))
    return history


# -- the checker -------------------------------------------------------------------


class _Graph:
    """Edges as parallel int arrays, then CSR adjacency (compact for 10^6 nodes)."""

    def __init__(self) -> None:
        self.size = 0
        self.src = array("i")
        self.dst = array("i")
        self.kind = array("b")
        self.offsets = array("i")
        self.targets = array("i")
        self.kinds = array("b")

    def add(self, a: int, b: int, kind: int) -> None:
        self.src.append(a)
        self.dst.append(b)
        self.kind.append(kind)

    def freeze(self, size: int) -> None:
        self.size = size
        counts = array("i", bytes(4 * (size + 1)))
        for a in self.src:
            counts[a + 1] += 1
        for i in range(size):
            counts[i + 1] += counts[i]
        self.offsets = array("i", counts)
        fill = array("i", counts)
        self.targets = array("i", bytes(4 * len(self.src)))
        self.kinds = array("b", bytes(len(self.src)))
        for a, b, k in zip(self.src, self.dst, self.kind, strict=True):
            slot = fill[a]
            self.targets[slot] = b
            self.kinds[slot] = k
            fill[a] = slot + 1
        self.src = self.dst = array("i")
        self.kind = array("b")

    def edges(self, node: int, mask: int) -> Iterator[tuple[int, int]]:
        for slot in range(self.offsets[node], self.offsets[node + 1]):
            kind = self.kinds[slot]
            if kind & mask:
                yield self.targets[slot], kind

    def components(self, mask: int, inside: set[int] | None = None) -> list[list[int]]:
        """Tarjan's SCCs (iterative) of the subgraph on ``inside`` (None: every
        node) with the edges in ``mask``; only components with a cycle."""
        if inside is None:
            nodes: Iterable[int] = range(self.size)
            index: _Slots = array("i", [-1]) * self.size
            low: _Slots = array("i", [-1]) * self.size
        else:
            nodes = sorted(inside)
            index = dict.fromkeys(inside, -1)
            low = dict.fromkeys(inside, -1)
        on_stack: set[int] = set()
        stack: list[int] = []
        found: list[list[int]] = []
        counter = 0
        for root in nodes:
            if index[root] >= 0:
                continue
            index[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack.add(root)
            work = [(root, self.edges(root, mask))]
            while work:
                node, it = work[-1]
                advanced = False
                for target, _ in it:
                    if inside is not None and target not in inside:
                        continue
                    if index[target] < 0:
                        index[target] = low[target] = counter
                        counter += 1
                        stack.append(target)
                        on_stack.add(target)
                        work.append((target, self.edges(target, mask)))
                        advanced = True
                        break
                    if target in on_stack and index[target] < low[node]:
                        low[node] = index[target]
                if advanced:
                    continue
                work.pop()
                if work:
                    parent = work[-1][0]
                    if low[node] < low[parent]:
                        low[parent] = low[node]
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:  # no edge loops back to its own node
                        found.append(component)
        return found

    def cycle(self, start: int, mask: int, inside: set[int]) -> list[tuple[int, int]]:
        """A shortest cycle through ``start`` within ``inside`` using ``mask`` edges,
        as ``[(node, kind of the edge leaving it), ...]``."""
        parent: dict[int, tuple[int, int]] = {}
        queue = deque([start])
        seen = {start}
        while queue:
            node = queue.popleft()
            for target, kind in self.edges(node, mask):
                if target not in inside:
                    continue
                if target == start:
                    path = [(node, kind)]
                    while node != start:
                        node, kind = parent[node]
                        path.append((node, kind))
                    path.reverse()
                    return path
                if target not in seen:
                    seen.add(target)
                    parent[target] = (node, kind)
                    queue.append(target)
        raise AssertionError("no cycle through a node of a strongly connected component")


@dataclass(slots=True)
class _Read:
    txn: int  # position in ``history``
    key: int
    values: tuple[int, ...]
    external: bool  # the transaction's first look at the key, before its own appends


def _norm(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"list-append values and keys are integers, got {value!r}")
    return int(value)


def check(
    history: Sequence[Txn],
    *,
    realtime: bool = False,
    final_reads: bool = False,
    extra: Iterable[Anomaly] = (),
) -> CheckResult:
    """Check a list-append history; see the module docstring.

    ``final_reads``: the history ends with reads of every key taken after the
    load stopped, so the longest read of each key is its final state and every
    ``ok`` append must be in it. ``extra``: anomalies the workload observed
    directly (e.g. ``split-key``), reported alongside.
    """
    # Millions of long-lived, acyclic objects: the cyclic GC would rescan them
    # over and over (10^6 transactions: 300 s with it, 20 s without).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _check(history, realtime=realtime, final_reads=final_reads, extra=extra)
    finally:
        if enabled:
            gc.enable()


def _check(
    history: Sequence[Txn],
    *,
    realtime: bool,
    final_reads: bool,
    extra: Iterable[Anomaly],
) -> CheckResult:
    result = CheckResult()
    for anomaly in extra:
        result.add(anomaly)
    n = len(history)

    # Writers: (key, value) -> (txn position, is it the txn's last append to key).
    writer: dict[tuple[int, int], int] = {}
    appends: dict[tuple[int, int], list[int]] = {}  # (txn, key) -> values, in order
    reads: list[_Read] = []
    for pos, t in enumerate(history):
        state: dict[int, list[int] | None] = {}  # what this txn knows of each key
        for fn, raw_key, raw_value in t.ops:
            key = _norm(raw_key)
            if fn == "append":
                value = _norm(raw_value)
                if (key, value) in writer:
                    raise ValueError(f"value {value} appended to key {key} twice: not unique")
                writer[key, value] = pos
                appends.setdefault((pos, key), []).append(value)
                if key not in state:
                    state[key] = None  # appended before reading: the prefix is unknown
                elif (known := state[key]) is not None:
                    known.append(value)
            elif fn == "r":
                if t.type != "ok" or raw_value is None:
                    continue
                values = tuple(_norm(x) for x in raw_value)
                external = key not in state
                if not external:
                    _check_internal(result, t, key, values, state[key], appends.get((pos, key)))
                state[key] = list(values)
                reads.append(_Read(pos, key, values, external))
            else:
                raise ValueError(f"unknown micro-op {fn!r} in transaction {t.index}")

    # Version orders: the longest read of each key; every read is its prefix.
    order: dict[int, tuple[int, ...]] = {}
    for r in reads:
        if len(r.values) > len(order.get(r.key, ())):
            order[r.key] = r.values
    incompatible: set[int] = set()
    for r in reads:
        longest = order.get(r.key, ())
        if longest[: len(r.values)] != r.values and r.key not in incompatible:
            incompatible.add(r.key)
            result.add(
                Anomaly(
                    "incompatible-order",
                    (history[r.txn].index,),
                    f"key {r.key}: read {list(r.values)} is not a prefix of {list(longest)}",
                )
            )

    # Per-read anomalies.
    for r in reads:
        t = history[r.txn]
        if len(set(r.values)) != len(r.values):
            twice = sorted(v for v, c in Counter(r.values).items() if c > 1)
            result.add(
                Anomaly(
                    "duplicate",
                    (t.index,),
                    f"key {r.key}: values {twice} appear twice in {list(r.values)}",
                )
            )
        for v in r.values:
            w = writer.get((r.key, v))
            if w == r.txn and r.external:
                result.add(
                    Anomaly(
                        "internal",
                        (t.index,),
                        f"T{t.index} read key {r.key} = {list(r.values)}, with {v} in it, "
                        f"before appending {v} itself",
                    )
                )
            elif w is None:
                result.add(Anomaly("garbage", (t.index,), f"key {r.key}: {v} was never appended"))
            elif history[w].type == "fail":
                result.add(
                    Anomaly(
                        "G1a",
                        (history[w].index, t.index),
                        f"T{t.index} read key {r.key} value {v}, "
                        f"appended by the failed T{history[w].index}",
                    )
                )
        if r.external and r.values:
            last = r.values[-1]
            w = writer.get((r.key, last))
            if w is not None and w != r.txn and history[w].type != "fail":
                own = appends[w, r.key]
                if own[-1] != last:
                    result.add(
                        Anomaly(
                            "G1b",
                            (history[w].index, t.index),
                            f"T{t.index} read key {r.key} ending at {last}, an intermediate "
                            f"state of T{history[w].index}, which appended {own}",
                        )
                    )

    # Lost acknowledged appends.
    if final_reads:
        present = {(k, v) for k, values in order.items() for v in values}
        for (pos, key), appended in appends.items():
            if history[pos].type != "ok":
                continue
            for v in appended:
                if (key, v) not in present:
                    result.add(
                        Anomaly(
                            "lost-append",
                            (history[pos].index,),
                            f"T{history[pos].index} appended {v} to key {key} and "
                            "committed, but the final read does not have it",
                        )
                    )

    # The graph: committed transactions. ``info`` ones committed if seen.
    observed = {writer[k, v] for k, values in order.items() for v in values if (k, v) in writer}
    node_of: dict[int, int] = {}
    txn_of: list[int] = []
    for pos, t in enumerate(history):
        if t.type == "ok" or (t.type == "info" and pos in observed):
            node_of[pos] = len(txn_of)
            txn_of.append(pos)
    graph = _Graph()
    edge_count = {"ww": 0, "wr": 0, "rw": 0}
    for key, values in order.items():
        prev: int | None = None
        for v in values:
            w = writer.get((key, v))
            node = node_of.get(w) if w is not None else None
            if node is None:
                continue
            if prev is not None and prev != node:
                graph.add(prev, node, WW)
                edge_count["ww"] += 1
            prev = node
    for r in reads:
        if not r.external or r.key in incompatible:
            continue
        reader = node_of[r.txn]
        source = None
        if r.values:
            w = writer.get((r.key, r.values[-1]))
            source = node_of.get(w) if w is not None else None
            if source is not None and source != reader:
                graph.add(source, reader, WR)
                edge_count["wr"] += 1
        longest = order.get(r.key, ())
        # The next committed append after what the reader saw: it missed that one.
        # (Unless the writer it read from made it too: a G1b, reported above.)
        for v in longest[len(r.values) :]:
            w = writer.get((r.key, v))
            target = node_of.get(w) if w is not None else None
            if target is None:
                continue
            if target != reader and target != source:
                graph.add(reader, target, RW)
                edge_count["rw"] += 1
            break

    size = len(txn_of)
    if realtime:
        size = _add_realtime(graph, history, txn_of)
    graph.freeze(size)

    result.stats = {
        "txns": n,
        "ok": sum(1 for t in history if t.type == "ok"),
        "fail": sum(1 for t in history if t.type == "fail"),
        "info": sum(1 for t in history if t.type == "info"),
        "info_committed": sum(1 for p in txn_of if history[p].type == "info"),
        "keys": len({k for (_, k) in appends} | set(order)),
        "reads": len(reads),
        **{f"edges_{k}": v for k, v in edge_count.items()},
    }
    _find_cycles(result, graph, history, txn_of, realtime)
    return result


def _check_internal(
    result: CheckResult,
    t: Txn,
    key: int,
    values: tuple[int, ...],
    known: list[int] | None,
    own: list[int] | None,
) -> None:
    if known is not None:
        if list(values) != known:
            result.add(
                Anomaly(
                    "internal",
                    (t.index,),
                    f"T{t.index} read key {key} = {list(values)}, but its own reads and "
                    f"appends imply {known}",
                )
            )
    elif own and list(values[-len(own) :]) != own:
        result.add(
            Anomaly(
                "internal",
                (t.index,),
                f"T{t.index} read key {key} = {list(values)}, which does not end with "
                f"its own appends {own}",
            )
        )


def _add_realtime(graph: _Graph, history: Sequence[Txn], txn_of: list[int]) -> int:
    """Real-time order through time nodes: T -> X[i] at T's completion (the i-th),
    X[i] -> X[i+1], and X[j] -> T2 for the last completion j before T2's
    invocation. A path T1 -> ... -> T2 then exists iff T1 completed before T2
    was invoked. Returns the graph's new node count."""
    done = sorted(
        (history[p].complete or 0.0, node)
        for node, p in enumerate(txn_of)
        if history[p].complete is not None
    )
    base = len(txn_of)
    times = [c for c, _ in done]
    for i, (_, node) in enumerate(done):
        graph.add(node, base + i, RT)
        if i + 1 < len(done):
            graph.add(base + i, base + i + 1, RT)
    for node, p in enumerate(txn_of):
        invoke = history[p].invoke
        if invoke is None:
            continue
        j = bisect.bisect_left(times, invoke) - 1
        if j >= 0:
            graph.add(base + j, node, RT)
    return base + len(done)


def _find_cycles(
    result: CheckResult,
    graph: _Graph,
    history: Sequence[Txn],
    txn_of: list[int],
    realtime: bool,
) -> None:
    everything = WW | WR | RW | (RT if realtime else 0)
    real = len(txn_of)
    classes = [("G0", WW), ("G1c", WW | WR), ("G2", WW | WR | RW)]
    if realtime:
        classes.append(("realtime", everything))
    components = graph.components(everything)
    result.stats["cycles_components"] = len(components)
    for component in components:
        inside = set(component)
        for name, mask in classes:
            sub = graph.components(mask, inside)
            if not sub:
                continue
            members = set(sub[0])
            start = min(m for m in members if m < real)
            path = graph.cycle(start, mask, members)
            steps = _collapse(path, real)
            kinds = {kind for _, kind in steps}
            if name == "realtime":
                base = "G2" if RW in kinds else "G1c" if WR in kinds else "G0"
                name = f"{base}-realtime"
            rw = sum(1 for _, kind in steps if kind == RW)
            text = " ".join(
                f"T{history[txn_of[node]].index} -{_EDGE_NAMES[kind]}->" for node, kind in steps
            )
            text += f" T{history[txn_of[steps[0][0]]].index}"
            if rw:
                text += f" ({rw} rw edge{'s' if rw > 1 else ''})"
            involved = tuple(history[txn_of[node]].index for node, _ in steps)
            result.add(Anomaly(name, involved, f"cycle {text}" + _explain(steps, history, txn_of)))
            break


def _collapse(path: list[tuple[int, int]], real: int) -> list[tuple[int, int]]:
    """Drop time nodes from a witness: their run becomes one rt edge; a step's
    kind is the weakest dependency among the edge's kinds."""
    steps: list[tuple[int, int]] = []
    for node, kind in path:
        if node >= real:
            continue
        label = next(k for k in _PREFERENCE if kind & k)
        steps.append((node, label))
    return steps


def _explain(steps: list[tuple[int, int]], history: Sequence[Txn], txn_of: list[int]) -> str:
    """The transactions of a short witness, as their micro-ops."""
    if len(steps) > 6:
        return ""
    parts = []
    for node, _ in steps:
        t = history[txn_of[node]]
        ops = ", ".join(_show(op) for op in t.ops)
        parts.append(f"T{t.index}[{t.type}]: {ops}")
    return "; " + "; ".join(parts)


def _show(op: MicroOp) -> str:
    fn, key, value = op
    if value is None:
        return f"{fn}({key})"
    return f"{fn}({key}, {list(value) if isinstance(value, tuple) else value})"


def main(argv: Sequence[str]) -> int:
    paths = [a for a in argv if not a.startswith("--")]
    if len(paths) != 1:
        print("usage: elle.py HISTORY.jsonl [--realtime] [--final-reads]", file=sys.stderr)
        return 2
    result = check(
        load_history(Path(paths[0])),
        realtime="--realtime" in argv,
        final_reads="--final-reads" in argv,
    )
    print(result.summary())
    return 0 if result.valid else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
