"""Deciding a batch of commits for the MongoDB store: validation, timestamps, records.

Pure functions over what one MongoDB transaction read (the sequencer, the prune
mark, the commit records after the oldest snapshot of the batch), so they are
tested without a server. ``_mongo`` runs them inside the transaction and
writes what they return.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reactor.storage._contract import CheckedCommit, Commit, IndexName, WrittenKeys
from reactor.storage._mongo_layout import encode_written, written_of

__all__ = [
    "SNAPSHOT_TOO_OLD",
    "CommitRecord",
    "Plan",
    "Sequencer",
    "plan_checked",
    "plan_plain",
]

SNAPSHOT_TOO_OLD = "_commits.pruned"
"""``write_checked``'s answer for a request whose snapshot is older than the
pruned commit records, so it cannot be validated: retry on a fresh snapshot."""


@dataclass(frozen=True, slots=True)
class Sequencer:
    ts: int
    """max_ts: the highest commit (or reserved) timestamp."""
    seq: int
    """The last commit record's sequence number."""


@dataclass(frozen=True, slots=True)
class CommitRecord:
    seq: int
    ts: int
    written: Mapping[IndexName, Sequence[bytes]]


@dataclass(slots=True)
class Plan:
    """What one transaction writes: the commits, their records, the new sequencer."""

    sequencer: Sequencer
    results: list[int | str] = field(default_factory=list)
    commits: list[Commit] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)

    def add(self, commit: Commit, written: WrittenKeys) -> None:
        seq = self.sequencer.seq + 1
        self.records.append({"_id": seq, "ts": commit.ts, "written": encode_written(written)})
        self.commits.append(commit)
        self.sequencer = Sequencer(max(self.sequencer.ts, commit.ts), seq)


def plan_checked(
    requests: Sequence[CheckedCommit],
    sequencer: Sequencer,
    pruned_ts: int,
    records: Sequence[CommitRecord],
    clock: Callable[[], int],
) -> Plan:
    """Validate each request, in order, and build the accepted ones at fresh timestamps.

    ``records`` must hold every commit record with ``ts`` above the oldest
    snapshot of the batch, in seq order. A request is checked against those
    after its own snapshot, then against the requests accepted before it here.
    """
    plan = Plan(sequencer)
    accepted: list[WrittenKeys] = []
    for request in requests:
        conflict = _conflict(request, pruned_ts, records, accepted)
        if conflict is not None:
            plan.results.append(conflict)
            continue
        ts = max(plan.sequencer.ts + 1, clock())
        commit = request.build(ts)
        if commit.ts != ts:
            raise ValueError(f"build({ts}) returned a commit at ts {commit.ts}")
        plan.add(commit, request.written)
        plan.results.append(ts)
        accepted.append(request.written)
    return plan


def _conflict(
    request: CheckedCommit,
    pruned_ts: int,
    records: Sequence[CommitRecord],
    accepted: Sequence[WrittenKeys],
) -> str | None:
    if request.snapshot_ts < pruned_ts:
        return SNAPSHOT_TOO_OLD  # records it must be checked against are gone
    for record in records:
        if record.ts > request.snapshot_ts:
            index = request.read_set.conflicts_with(record.written)
            if index is not None:
                return index
    for written in accepted:
        index = request.read_set.conflicts_with(written)
        if index is not None:
            return index
    return None


def plan_plain(commits: Sequence[Commit], sequencer: Sequencer) -> Plan:
    """A plain ``write``: the caller chose the timestamps and validated the commits.

    Like the SQLite store, max_ts only moves up, so a commit below a reserved
    timestamp is still accepted (its record keeps its own ts).
    """
    plan = Plan(sequencer)
    for commit in commits:
        plan.add(commit, written_of(commit))
        plan.results.append(commit.ts)
    return plan
