"""Helpers shared by the client tests: a value of every type, and waiting for values."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from reactor import Int64
from reactor.values import INT64_MAX, INT64_MIN

EVERY_TYPE = {
    "null": None,
    "true": True,
    "false": False,
    "float": 1.5,
    "whole_float": 3.0,
    "zero": 0.0,
    "negative_zero": -0.0,
    "nan": math.nan,
    "inf": math.inf,
    "minus_inf": -math.inf,
    "int64_max": Int64(INT64_MAX),
    "int64_min": Int64(INT64_MIN),
    "int64_zero": Int64(0),
    "bytes": b"\x00\xff\xfe binary",
    "empty_bytes": b"",
    "string": "héllo ✓ \u2028",
    "empty": "",
    "array": [Int64(-1), 2.5, "x", None, [b"\x01", {"deep": [True]}]],
    "object": {"nested": {"list": [], "obj": {}, "n": Int64(7)}},
}


def check_every_type(value: object) -> None:
    assert isinstance(value, dict)
    assert set(value) == set(EVERY_TYPE)
    assert value["null"] is None
    assert value["true"] is True and value["false"] is False
    assert type(value["float"]) is float and value["float"] == 1.5
    assert type(value["whole_float"]) is float and value["whole_float"] == 3.0
    assert math.copysign(1.0, value["zero"]) == 1.0
    assert value["negative_zero"] == 0.0 and math.copysign(1.0, value["negative_zero"]) == -1.0
    assert math.isnan(value["nan"])
    assert value["inf"] == math.inf and value["minus_inf"] == -math.inf
    for key in ("int64_max", "int64_min", "int64_zero"):
        assert type(value[key]) is Int64 and value[key] == EVERY_TYPE[key]
    assert type(value["bytes"]) is bytes and value["bytes"] == EVERY_TYPE["bytes"]
    assert value["empty_bytes"] == b""
    assert value["string"] == EVERY_TYPE["string"] and value["empty"] == ""
    assert value["array"] == EVERY_TYPE["array"]
    assert type(value["array"][0]) is Int64
    assert value["object"] == EVERY_TYPE["object"]
    assert type(value["object"]["nested"]["n"]) is Int64


async def next_value(subscription: AsyncIterator[Any]) -> Any:
    async with asyncio.timeout(5):
        return await anext(subscription)


async def waiting_value(subscription: AsyncIterator[Any]) -> Any:
    """The next value, which must already be waiting: taking it needs no I/O."""
    task = asyncio.ensure_future(anext(subscription))
    await asyncio.sleep(0)  # one loop step: enough to take a value that is there
    if not task.done():
        task.cancel()
        pytest.fail("no value was waiting")
    return task.result()


async def until(condition: Callable[[], bool]) -> None:
    # Polling: what is watched (the relay's log) has no event to wait on.
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
