"""Contract: writes land, reads by id and by key range see them (every store kind)."""

from __future__ import annotations

import random

import pytest

from reactor.storage import Commit, DocumentWrite, IndexEntry, IndexWrite, Snapshot, Store

pytestmark = pytest.mark.anyio

IDX = "t.by_k"


def doc(doc_id: str, value: bytes | None, table: str = "t") -> DocumentWrite:
    return DocumentWrite(table=table, id=doc_id, value=value)


def entry(key: bytes, doc_id: str | None, index: str = IDX) -> IndexWrite:
    return IndexWrite(index=index, key=key, doc_id=doc_id)


async def seed(store: Store, keys: list[bytes], ts: int = 1) -> None:
    """One document per key, named after the key, indexed under IDX."""
    await store.write(
        [
            Commit(
                ts=ts,
                documents=tuple(doc(f"d{k.hex()}", b"v" + k) for k in keys),
                index_writes=tuple(entry(k, f"d{k.hex()}") for k in keys),
            )
        ]
    )


async def keys_of(
    store: Store, start: bytes, end: bytes | None, *, reverse: bool = False, limit: int = 256
) -> list[bytes]:
    async with await store.snapshot() as snap:
        return [e.key for e in await snap.scan(IDX, start, end, reverse=reverse, limit=limit)]


async def test_write_then_read_back(store: Store) -> None:
    await store.write(
        [
            Commit(ts=10, documents=(doc("a", b"A1"),), index_writes=(entry(b"ka", "a"),)),
            Commit(ts=11, documents=(doc("b", b"B1"), doc("a", b"A2"))),
        ]
    )
    async with await store.snapshot() as snap:
        assert snap.ts == 11
        assert await snap.get("a") == b"A2"
        assert await snap.get("b") == b"B1"
        assert await snap.get("missing") is None
        # The entry joins the document's current value.
        assert await snap.scan(IDX, b"", None) == [IndexEntry(b"ka", "a", b"A2")]


async def test_fresh_store_is_empty_at_ts_zero(store: Store) -> None:
    async with await store.snapshot() as snap:
        assert snap.ts == 0
        assert await snap.get("a") is None
        assert await snap.scan(IDX, b"", None) == []


async def test_values_round_trip_exactly(store: Store) -> None:
    big = bytes(random.Random(1).randbytes(1 << 20))
    await store.write(
        [Commit(ts=1, documents=(doc("empty", b""), doc("big", big), doc("nul", b"\x00\xff")))]
    )
    async with await store.snapshot() as snap:
        assert await snap.get("empty") == b""
        assert await snap.get("big") == big
        assert await snap.get("nul") == b"\x00\xff"


async def test_deletes(store: Store) -> None:
    await seed(store, [b"a", b"b"])
    await store.write(
        [Commit(ts=2, documents=(doc(f"d{b'a'.hex()}", None),), index_writes=(entry(b"a", None),))]
    )
    async with await store.snapshot() as snap:
        assert await snap.get(f"d{b'a'.hex()}") is None
        assert await snap.get(f"d{b'b'.hex()}") == b"vb"
        assert [e.key for e in await snap.scan(IDX, b"", None)] == [b"b"]
    # Deleting what does not exist is not an error.
    await store.write(
        [Commit(ts=3, documents=(doc("nope", None),), index_writes=(entry(b"x", None),))]
    )


async def test_writes_apply_in_order_within_and_across_commits(store: Store) -> None:
    await store.write(
        [
            # Within a commit: remove then set leaves it set; set then remove leaves it removed.
            Commit(
                ts=1,
                documents=(doc("a", b"1"), doc("b", b"1"), doc("b", None), doc("c", b"1")),
                index_writes=(entry(b"k1", None), entry(b"k1", "a"), entry(b"k2", "a")),
            ),
            Commit(ts=2, index_writes=(entry(b"k2", None),)),
            # Across commits: the later commit wins.
            Commit(
                ts=3, documents=(doc("a", b"3"), doc("b", b"3")), index_writes=(entry(b"k1", "c"),)
            ),
            Commit(ts=4, documents=(doc("c", None), doc("c", b"4"))),
        ]
    )
    async with await store.snapshot() as snap:
        assert (await snap.get("a"), await snap.get("b"), await snap.get("c")) == (b"3", b"3", b"4")
        assert await snap.scan(IDX, b"", None) == [IndexEntry(b"k1", "c", b"4")]


async def test_an_entry_moves_to_another_document(store: Store) -> None:
    await store.write(
        [Commit(ts=1, documents=(doc("a", b"A"), doc("b", b"B")), index_writes=(entry(b"k", "a"),))]
    )
    await store.write([Commit(ts=2, index_writes=(entry(b"k", "b"),))])
    async with await store.snapshot() as snap:
        assert await snap.scan(IDX, b"", None) == [IndexEntry(b"k", "b", b"B")]


async def test_indexes_are_separate(store: Store) -> None:
    await store.write(
        [
            Commit(
                ts=1,
                documents=(doc("a", b"A"),),
                # "t.by_k" is a prefix of "t.by_k2": they must not leak into each other.
                index_writes=(entry(b"k", "a"), entry(b"k", "a", index="t.by_k2")),
            )
        ]
    )
    await store.write([Commit(ts=2, index_writes=(entry(b"k", None, index="t.by_k2"),))])
    async with await store.snapshot() as snap:
        assert [e.key for e in await snap.scan(IDX, b"", None)] == [b"k"]
        assert await snap.scan("t.by_k2", b"", None) == []
        assert await snap.scan("t.other", b"", None) == []


KEYS = [
    b"",
    b"\x00",
    b"\x00\x00",
    b"\x01",
    b"a",
    b"ab",
    b"abc",
    b"b",
    b"\x7f",
    b"\x80",
    b"\xff",
    b"\xff\xff",
]


async def test_scan_orders_keys_bytewise_and_bounds_them(store: Store) -> None:
    await seed(store, list(reversed(KEYS)))
    assert await keys_of(store, b"", None) == KEYS  # byte order; a prefix sorts first
    assert await keys_of(store, b"", None, reverse=True) == KEYS[::-1]
    # start is inclusive, end exclusive.
    assert await keys_of(store, b"a", b"b") == [b"a", b"ab", b"abc"]
    assert await keys_of(store, b"a", b"b", reverse=True) == [b"abc", b"ab", b"a"]
    assert await keys_of(store, b"ab", b"abc") == [b"ab"]
    assert await keys_of(store, b"\x00", b"\x01") == [b"\x00", b"\x00\x00"]
    # Unbounded end reaches the largest keys; an empty or inverted range is empty.
    assert await keys_of(store, b"\x80", None) == [b"\x80", b"\xff", b"\xff\xff"]
    assert await keys_of(store, b"\xff", None, reverse=True) == [b"\xff\xff", b"\xff"]
    assert await keys_of(store, b"a", b"a") == []
    assert await keys_of(store, b"b", b"a") == []
    assert await keys_of(store, b"\xff\xff\x00", None) == []


async def test_scan_limit(store: Store) -> None:
    await seed(store, KEYS)
    assert await keys_of(store, b"", None, limit=3) == KEYS[:3]
    assert await keys_of(store, b"", None, limit=3, reverse=True) == KEYS[::-1][:3]
    assert await keys_of(store, b"a", b"b", limit=2, reverse=True) == [b"abc", b"ab"]
    assert await keys_of(store, b"", None, limit=1000) == KEYS
    assert await keys_of(store, b"", None, limit=0) == []
    assert len(await keys_of(store, b"", None)) == len(KEYS)  # the default limit is large enough


async def test_scan_pages_through_a_range(store: Store) -> None:
    keys = sorted(i.to_bytes(2, "big") for i in range(0, 1000, 7))
    await seed(store, keys)
    async with await store.snapshot() as snap:
        forward: list[bytes] = []
        start = b"\x00\x10"
        while page := await snap.scan(IDX, start, b"\x03\x00", limit=16):
            forward += [e.key for e in page]
            start = page[-1].key + b"\x00"  # the smallest key after the last one
        assert forward == [k for k in keys if b"\x00\x10" <= k < b"\x03\x00"]

        backward: list[bytes] = []
        end: bytes | None = None
        while page := await snap.scan(IDX, b"\x00\x10", end, reverse=True, limit=16):
            backward += [e.key for e in page]
            end = page[-1].key  # exclusive, so the next page starts below it
        assert backward == [k for k in reversed(keys) if k >= b"\x00\x10"]


async def test_scan_refuses_a_negative_limit(store: Store) -> None:
    async with await store.snapshot() as snap:
        with pytest.raises(ValueError, match="limit"):
            await snap.scan(IDX, b"", None, limit=-1)


@pytest.mark.parametrize("seed_", range(6))
async def test_random_writes_and_scans_match_a_model(store: Store, seed_: int) -> None:
    """Random batches of sets and removes, checked by random scans and by an old snapshot."""
    rng = random.Random(seed_)
    alphabet = [b"\x00", b"\x01", b"a", b"\x7f", b"\x80", b"\xff"]
    pool = sorted({b"".join(rng.choices(alphabet, k=rng.randint(0, 3))) for _ in range(40)})
    docs = {f"d{i}": b"" for i in range(8)}
    model: dict[str, dict[bytes, str]] = {"t.a": {}, "t.ab": {}}
    ts = 0
    old: tuple[Snapshot, dict[str, dict[bytes, str]], dict[str, bytes]] | None = None
    for round_ in range(8):
        commits = []
        for _ in range(rng.randint(1, 3)):
            ts += rng.randint(1, 1000)
            changed = rng.sample(sorted(docs), k=rng.randint(0, 3))
            for d in changed:
                docs[d] = rng.randbytes(rng.randint(0, 8))
            writes = []
            for _ in range(rng.randint(0, 12)):
                index = rng.choice(sorted(model))
                key = rng.choice(pool)
                target = rng.choice([None, *sorted(docs)])
                writes.append(entry(key, target, index=index))
                if target is None:
                    model[index].pop(key, None)
                else:
                    model[index][key] = target
            documents = tuple(doc(d, docs[d]) for d in changed)
            if round_ == 0:
                documents = tuple(doc(d, v) for d, v in docs.items())
            commits.append(Commit(ts=ts, documents=documents, index_writes=tuple(writes)))
        await store.write(commits)
        if round_ == 3:
            old = (await store.snapshot(), {i: dict(m) for i, m in model.items()}, dict(docs))
        async with await store.snapshot() as snap:
            assert snap.ts == ts
            await check_scans(snap, rng, pool, model, docs)
    assert old is not None
    snap, old_model, old_docs = old
    try:
        await check_scans(snap, rng, pool, old_model, old_docs)
    finally:
        await snap.close()


async def check_scans(
    snap: Snapshot,
    rng: random.Random,
    pool: list[bytes],
    model: dict[str, dict[bytes, str]],
    docs: dict[str, bytes],
) -> None:
    for _ in range(12):
        index = rng.choice(sorted(model))
        start = rng.choice(pool)
        end = rng.choice([None, *pool])
        reverse = rng.random() < 0.5
        limit = rng.randint(0, 10)
        expected = sorted(k for k in model[index] if k >= start and (end is None or k < end))
        if reverse:
            expected.reverse()
        want = [IndexEntry(k, model[index][k], docs[model[index][k]]) for k in expected[:limit]]
        assert await snap.scan(index, start, end, reverse=reverse, limit=limit) == want
    for d, value in docs.items():
        assert await snap.get(d) == value
