"""Fixtures shared by every test folder.

MongoDB: tests parametrized with a ``store_kind`` starting with ``mongodb`` (or
a ``mongo_lane``) run against the jongodb wire server this session starts
(``tests/mongo_server.py``), and also against a real replica set when
``MONGODB_URI`` is set. ``REACTOR_SKIP_MONGO=1`` deselects them, and says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mongo_server import WireServerError, running_jongodb
from store_kinds import SKIP_MONGO

APPS = Path(__file__).parent / "apps"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def apps_dir() -> Path:
    return APPS


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        help="run the long variants of the hostile-input tests (also REACTOR_LONG=1)",
    )


_deselected = pytest.StashKey[int]()
_timings = pytest.StashKey[dict[str, float]]()


def is_mongo_test(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    return str(params.get("store_kind", "")).startswith("mongodb") or "mongo_lane" in params


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not SKIP_MONGO:
        return
    dropped = [item for item in items if is_mongo_test(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not is_mongo_test(item)]
    config.stash[_deselected] = len(dropped)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    config = terminalreporter.config
    if SKIP_MONGO:
        count = config.stash.get(_deselected, 0)
        terminalreporter.write_line(
            f"REACTOR_SKIP_MONGO=1: {count} MongoDB store tests were deselected (not run)",
            yellow=True,
        )
    timings = config.stash.get(_timings, None)
    if timings is not None:
        terminalreporter.write_line(
            "jongodb wire server: install/check {install:.2f} s, start {start:.3f} s".format(
                **timings
            )
        )


@pytest.fixture(scope="session")
def jongodb_uri(pytestconfig: pytest.Config) -> Iterator[str]:
    """The URI of a jongodb server started for this session (installed from npm if needed)."""
    try:
        with running_jongodb() as (server, timings):
            pytestconfig.stash[_timings] = timings
            yield server.uri
    except (WireServerError, OSError) as exc:
        raise RuntimeError(
            f"could not start the MongoDB wire server for the MongoDB store tests: {exc}\n"
            "Set REACTOR_SKIP_MONGO=1 to deselect those tests."
        ) from exc
