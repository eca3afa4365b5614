"""The MongoDB store's index-key string form: MongoDB's order over it is byte order.

Keys are stored as lowercase hex (``_mongo_layout.key_str``). These tests prove
on the server itself that sorting and range queries over that field give
Python's byte order of the keys, for keys built from random Convex values of
mixed types, and show why raw BinData cannot be used.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from bson import Binary
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import AsyncMongoClient

from reactor.storage import Commit, DocumentWrite, IndexEntry, IndexWrite, MongoStore
from reactor.storage._mongo_layout import key_str
from reactor.values import INT64_MAX, INT64_MIN, Int64, encode_key

Doc = dict[str, Any]

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(INT64_MIN, INT64_MAX).map(Int64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, float("nan"), float("-inf")]),
    st.text(max_size=6),
    st.text(alphabet="a\x00\xff\U0001f600", max_size=3),
    st.binary(max_size=6),
)
convex_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(["a", "aa", "b", "_x"]), children, max_size=3),
    ),
    max_leaves=6,
)
# Index keys are tuples of field values (then _creationTime and _id in reactor).
index_keys = st.lists(convex_values, min_size=1, max_size=3).map(encode_key)

MIXED = [
    [None],
    [False],
    [True],
    [Int64(-5)],
    [Int64(7)],
    [-1.5],
    [0.0],
    [float("nan")],
    [""],
    ["a"],
    ["a\x00"],
    ["ab"],
    [b""],
    [b"\x00"],
    [b"\xff"],
    [[]],
    [[None, "a"]],
    [{}],
    [{"a": 1.0}],
    ["a", Int64(1)],
    ["a", 2.0],
    [None, None],
]


def test_mixed_type_keys_sort_and_range_scan_in_byte_order(mongo_database: tuple[str, str]) -> None:
    keys = [encode_key(values) for values in MIXED]
    asyncio.run(
        _check_order(*mongo_database, "mixed", keys, list(itertools.pairwise(sorted(keys))))
    )


def test_random_convex_keys_sort_in_byte_order(mongo_database: tuple[str, str]) -> None:
    uri, database = mongo_database
    with asyncio.Runner() as runner:
        counter = itertools.count()

        @settings(
            max_examples=60,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(
            keys=st.lists(index_keys, min_size=1, max_size=20, unique=True),
            bounds=st.lists(st.tuples(st.integers(0, 19), st.integers(0, 19)), max_size=4),
        )
        def check(keys: list[bytes], bounds: list[tuple[int, int]]) -> None:
            ranked = sorted(keys)
            ranges = [(ranked[a % len(ranked)], ranked[b % len(ranked)]) for a, b in bounds]
            runner.run(_check_order(uri, database, f"ex{next(counter)}", keys, ranges))

        check()


async def _check_order(
    uri: str, database: str, idx: str, keys: list[bytes], ranges: list[tuple[bytes, bytes]]
) -> None:
    client: AsyncMongoClient[Doc] = AsyncMongoClient(uri)
    try:
        entries = client[database]["keys"]
        await entries.insert_many([{"idx": idx, "k": key_str(key), "raw": key} for key in keys])

        async def fetch(where: Doc, direction: int) -> list[bytes]:
            cursor = entries.find({"idx": idx, **where}).sort("k", direction)
            return [bytes(doc["raw"]) async for doc in cursor]

        assert await fetch({}, 1) == sorted(keys)
        assert await fetch({}, -1) == sorted(keys, reverse=True)
        for lo, hi in ranges:
            want = [k for k in sorted(keys) if lo <= k < hi]
            assert await fetch({"k": {"$gte": key_str(lo), "$lt": key_str(hi)}}, 1) == want
            assert await fetch({"k": {"$gte": key_str(lo)}}, -1) == sorted(
                (k for k in keys if k >= lo), reverse=True
            )
    finally:
        await client.close()


def test_bindata_would_not_sort_in_byte_order(mongo_database: tuple[str, str]) -> None:
    """Why the keys are strings: MongoDB orders BinData by length first (and jongodb
    by yet another rule), so a shorter key sorts first whatever its bytes."""

    async def run() -> list[bytes]:
        client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo_database[0])
        try:
            coll = client[mongo_database[1]]["bindata"]
            raw = [b"\x02", b"\x01\x00", b"\x01"]
            await coll.insert_many([{"b": Binary(value)} for value in raw])
            return [bytes(doc["b"]) async for doc in coll.find().sort("b", 1)]
        finally:
            await client.close()

    assert asyncio.run(run()) != [b"\x01", b"\x01\x00", b"\x02"]


@pytest.mark.anyio
async def test_store_scans_mixed_type_keys_in_order(mongo_database: tuple[str, str]) -> None:
    keys = sorted(encode_key(values) for values in MIXED)
    store = MongoStore(mongo_database[0], database=mongo_database[1])
    await store.open()
    try:
        await store.write(
            [
                Commit(
                    ts=1,
                    documents=tuple(
                        DocumentWrite("t", f"d{i}", b"%d" % i) for i in range(len(keys))
                    ),
                    index_writes=tuple(IndexWrite("t.k", k, f"d{i}") for i, k in enumerate(keys)),
                )
            ]
        )
        async with await store.snapshot() as snap:
            assert await snap.scan("t.k", b"", None, limit=100) == [
                IndexEntry(k, f"d{i}", b"%d" % i) for i, k in enumerate(keys)
            ]
            middle = keys[5:-5]
            got = await snap.scan("t.k", middle[0], middle[-1], reverse=True, limit=100)
            assert [e.key for e in got] == middle[-2::-1]
    finally:
        await store.close()
