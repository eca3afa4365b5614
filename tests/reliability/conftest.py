"""Reliability tests (RELIABILITY.md): the long mode, and their figures.

``REACTOR_LONG=1`` (or ``pytest --long``) runs the long
versions: 10^6 list-append transactions per store (``REACTOR_LONG_TXNS``
overrides the count) and many more kill/restart cycles in the crash test.
Each test reports its figures (transactions checked, anomalies, ...), and the
run prints them at the end.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

_figures = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def long_run(pytestconfig: pytest.Config) -> bool:
    # --long is registered by tests/conftest.py (shared with the hostile-input tests).
    return os.environ.get("REACTOR_LONG") == "1" or bool(pytestconfig.getoption("--long"))


@pytest.fixture
def report(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> Callable[[str], None]:
    """``report(line)``: a line of figures, printed with the others at the end."""
    lines = pytestconfig.stash.setdefault(_figures, [])

    def add(line: str) -> None:
        lines.append(f"{request.node.name}: {line}")

    return add


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = terminalreporter.config.stash.get(_figures, [])
    if lines:
        terminalreporter.section("reliability figures")
        for line in lines:
            terminalreporter.write_line(line)
