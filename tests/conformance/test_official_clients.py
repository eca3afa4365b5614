"""The official Convex clients, unmodified, against `reactor serve`.

Runs ../shared/conformance: conformance.mjs drives npm `convex` (ConvexClient
over WebSocket and ConvexHttpClient), conformance.py drives PyPI `convex`
(the Rust-backed client and its HTTP client) with --extended. Every check of
both must pass.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from npm_harness import install_harness
from reactor_process import serve_app

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "tests" / "apps" / "conformance"


@pytest.fixture(scope="module")
def harness() -> Path:
    """A writable copy of the harness with its npm dependencies installed (cached)."""
    return install_harness()


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_app(APP, tmp_path_factory.mktemp("conformance-db")) as url:
        yield url


def run_harness(command: list[str], cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert " 0 failed" in output, output
    return output


def test_npm_convex_client(harness: Path, server_url: str) -> None:
    output = run_harness(["node", "conformance.mjs", server_url, "--extended"], harness)
    assert "ws.read_your_writes_on_mutation_resolve" in output


def test_pypi_convex_client(harness: Path, server_url: str) -> None:
    output = run_harness([sys.executable, "conformance.py", server_url, "--extended"], harness)
    assert "ws.action_echo_extended_values" in output
