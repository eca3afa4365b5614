"""The blocking ReactorClient, from plain test functions and from several threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from client_helpers import EVERY_TYPE, check_every_type
from server_thread import ServerThread

from reactor import ConvexError
from reactor.client import ClientClosedError, FunctionError, ReactorClient


@pytest.fixture
def served(client_app: Path, tmp_path: Path) -> Iterator[ServerThread]:
    with ServerThread(client_app, tmp_path / "sync.db") as thread:
        yield thread


@pytest.fixture
def client(served: ServerThread) -> Iterator[ReactorClient]:
    with ReactorClient(served.url) as c:
        yield c


def live_queries(served: ServerThread) -> int:
    async def count() -> int:
        assert served.server is not None
        return int(served.server.live.stats()["live_queries"])

    return served.run(count())


def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_calls_round_trip(client: ReactorClient) -> None:
    check_every_type(client.query("values:echo_query", EVERY_TYPE))
    check_every_type(client.mutation("values:echo_mutation", EVERY_TYPE))
    check_every_type(client.action("values:echo_action", EVERY_TYPE))
    with pytest.raises(ConvexError) as error:
        client.mutation("messages:fail", {"code": "SYNC"})
    assert error.value.data == {"code": "SYNC", "n": 1.0}
    with pytest.raises(FunctionError, match="nowhere:nothing"):
        client.query("nowhere:nothing")


def test_subscribe_and_break(client: ReactorClient, served: ServerThread) -> None:
    with ReactorClient(served.url) as other:
        seen = []
        for value in client.subscribe("messages:list", {"channel": "s"}):
            seen.append(value)
            if len(seen) == 3:
                break
            other.mutation("messages:send", {"channel": "s", "body": str(len(seen))})
        assert seen == [[], ["1"], ["1", "2"]]
    until(lambda: live_queries(served) == 0)


def test_read_your_writes(client: ReactorClient) -> None:
    with client.subscribe("counters:get", {"name": "sync"}) as subscription:
        assert next(subscription) is None
        assert client.mutation("counters:increment", {"name": "sync"}) == 1.0
        assert next(subscription) == 1.0


def test_many_threads_share_one_client(client: ReactorClient) -> None:
    results: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            value = client.mutation("counters:increment", {"name": "threads"})
            with lock:
                results.append(value)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [float(n) for n in range(1, 21)]
    assert client.query("counters:get", {"name": "threads"}) == 20.0


def test_closing_a_subscription_from_another_thread_stops_it(client: ReactorClient) -> None:
    subscription = client.subscribe("counters:get", {"name": "blocked"})
    assert next(subscription) is None
    stopped = threading.Event()

    def consume() -> None:
        for _ in subscription:  # blocks: the value will not change
            pass
        stopped.set()

    consumer = threading.Thread(target=consume)
    consumer.start()
    time.sleep(0.05)
    subscription.close()
    consumer.join(5)
    assert stopped.is_set()


def test_close_stops_everything(served: ServerThread) -> None:
    client = ReactorClient(served.url)
    subscription = client.subscribe("counters:get", {"name": "closing"})
    assert next(subscription) is None
    failure: list[BaseException] = []

    def consume() -> None:
        try:
            next(subscription)
        except BaseException as exc:
            failure.append(exc)

    consumer = threading.Thread(target=consume)
    consumer.start()
    time.sleep(0.05)
    client.close()
    client.close()  # idempotent
    consumer.join(5)
    assert len(failure) == 1 and isinstance(failure[0], ClientClosedError)
    with pytest.raises(ClientClosedError):
        client.query("counters:get", {"name": "closing"})
    assert not any(t.name == "reactor-client" for t in threading.enumerate())
    until(lambda: live_queries(served) == 0)
