"""Fuzzing a live `reactor serve`: bad frames over many connections.

Every bad frame gets a clean answer (a FatalError and a close whose reason
repeats it, or a WebSocket-level close such as 1009 for a frame over the
size limit), never an internal error or a dropped stream; a control client
subscribed to a query keeps getting updates throughout; and the server's
resident memory grows by less than 10 MB over the run (measured after a
warm-up). 10,000 bad frames here, 100,000 with ``REACTOR_LONG=1``/``--long``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import orjson
import pytest
from hostile_frames import MAX_FRAME_BYTES, SENTINEL_ERROR, Case, call_batch, fatal_case
from hostile_server import ServerProcess, running_server
from hostile_wire import Exchange, count_answers, exchange
from raw_client import RawClient

pytestmark = pytest.mark.anyio

SEED = 20240611
WORKERS = 12
MIB = 1024 * 1024


@pytest.fixture
def fuzzed(tmp_path: Path, live_app: Path) -> Iterator[ServerProcess]:
    env = {"REACTOR_MAX_FRAME_BYTES": str(MAX_FRAME_BYTES)}
    with running_server(live_app, tmp_path, env) as server:
        yield server


def reason_of(error: str) -> str:
    return error.encode()[:123].decode(errors="ignore")


def check_fatal(case: Case, got: Exchange) -> str | None:
    """What is wrong with the server's answer to ``case``, if anything."""
    if got.status != 101 or got.timed_out or got.close is None:
        return f"no clean close: status {got.status}, timed out {got.timed_out}"
    code, reason = got.close
    messages = [orjson.loads(text) for text in got.texts]
    fatal = [m["error"] for m in messages if m["type"] == "FatalError"]
    if case.close_code != 1002 and case.expect is not None:
        ok = code == case.close_code and case.expect in reason and not fatal
        return None if ok else f"expected close {case.close_code} ~{case.expect!r}"
    if code == 1002 and len(fatal) == 1:
        if reason != reason_of(fatal[0]):
            return f"close reason {reason!r} does not repeat the FatalError"
        if case.expect is not None and case.expect not in fatal[0]:
            return f"FatalError {fatal[0]!r} does not say {case.expect!r}"
        return None
    if case.expect is None and (
        code == 1007 or (code == 1000 and reason == "AuthError" and "AuthError" in got.texts[-1])
    ):
        return None  # invalid UTF-8 (the WebSocket layer), or a refused token
    return f"unexpected close {code} {reason!r} after {[m['type'] for m in messages]}"


def check_batch(got: Exchange, answers: int) -> str | None:
    if got.close is None or got.timed_out:
        return "the batch connection was not closed cleanly"
    if count_answers(got.texts) < answers:
        return f"{count_answers(got.texts)} answers to {answers} calls"
    if got.close != (1002, SENTINEL_ERROR):
        return f"closed with {got.close}, not by the sentinel"
    return None


class Fuzzer:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.sent = 0
        self.next_case = 0
        self.failures: list[str] = []
        self.kinds: Counter[str] = Counter()

    async def run(self, frames: int) -> None:
        target = self.sent + frames

        async def worker() -> None:
            while self.sent < target:
                index = self.next_case
                self.next_case += 1
                await self.one(index)

        async with anyio.create_task_group() as tg:
            for _ in range(WORKERS):
                tg.start_soon(worker)

    async def one(self, index: int) -> None:
        rng = random.Random(f"{SEED}-{index}")
        port = self.server.port
        if rng.random() < 0.9:  # about half the frames: protocol violations
            case = fatal_case(rng)
            self.sent += 1
            problem = check_fatal(case, await exchange(port, case.frames))
            label = case.label
        else:
            frames, answers = call_batch(rng, size=10)
            self.sent += len(frames) - 2  # not Connect and the sentinel
            got = await exchange(port, frames[:-1], answers=answers, then=frames[-1:])
            problem = check_batch(got, answers)
            label = "call batch"
        self.kinds[label.split(":")[0]] += 1
        if problem is not None:
            self.failures.append(f"case {SEED}-{index} ({label}): {problem}")


async def control_update(control: RawClient, http: httpx2.AsyncClient, body: str) -> None:
    """Write through HTTP; the subscribed control client must see it within 10 s."""
    answer = await http.post(
        "/api/mutation",
        json={"path": "messages:send", "args": {"channel": "control", "body": body}},
    )
    assert answer.status_code == 200 and answer.json()["status"] == "success", answer.text
    with anyio.fail_after(10):
        while [row["body"] for row in control.results.get(0, [])][-1:] != [body]:
            await control.transition()


async def keep_checking(
    control: RawClient, http: httpx2.AsyncClient, done: anyio.Event, delays: list[float]
) -> None:
    """While the fuzzer runs: write, and see the control client get the update."""
    while not done.is_set():
        started = time.monotonic()
        await control_update(control, http, f"during {len(delays)}")
        delays.append(time.monotonic() - started)
        await anyio.sleep(0.2)


async def test_bad_frames_on_a_live_server(fuzzed: ServerProcess, long_mode: bool) -> None:
    total = 100_000 if long_mode else 10_000
    fuzzer = Fuzzer(fuzzed)
    delays: list[float] = []
    async with (
        RawClient.open(fuzzed.url) as control,
        httpx2.AsyncClient(base_url=fuzzed.url, trust_env=False, timeout=30) as http,
    ):
        await control.subscribe(0, "messages:list", {"channel": "control"})
        await control.transition()
        await fuzzer.run(2_000)  # warm-up: caches, pools and arenas reach their size
        await control_update(control, http, "warm")
        await asyncio.sleep(0.5)
        before = fuzzed.rss_bytes()
        started = time.monotonic()
        done = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(keep_checking, control, http, done, delays)
            await fuzzer.run(total)
            done.set()
        elapsed = time.monotonic() - started
        await control_update(control, http, "after")
        await asyncio.sleep(0.5)
        after = fuzzed.rss_bytes()
    print(
        f"\n{fuzzer.sent} bad frames ({total} measured) in {elapsed:.1f} s; server RSS "
        f"{before / MIB:.1f} MiB after warm-up, {after / MIB:.1f} MiB after "
        f"({(after - before) / MIB:+.2f} MiB); control client: {len(delays)} updates "
        f"during the run, slowest {max(delays):.2f} s; cases: {dict(fuzzer.kinds)}"
    )
    assert not fuzzer.failures, "\n".join(fuzzer.failures[:20])
    assert fuzzed.alive()
    assert len(delays) >= 3, "the control client was not checked during the run"
    assert after - before < 10 * MIB, f"RSS grew by {(after - before) / MIB:.1f} MiB"
    log = fuzzed.log_text()
    assert "Traceback" not in log and "InternalServerError" not in log, log[-3000:]
