"""The official npm client, refused with 1013 at the connection cap, backs off,
reconnects and is served once a slot is free (`reactor serve` subprocess)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from hostile_server import ServerProcess, running_server
from npm_harness import install_harness
from raw_client import RawClient

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "tests" / "apps" / "live"
SCRIPT = Path(__file__).with_name("npm_backoff.mjs")


@pytest.fixture(scope="module")
def npm_dir() -> Path:
    """A folder with npm ``convex`` installed: the conformance harness's copy (cached)."""
    return install_harness()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"REACTOR_MAX_CONNECTIONS": "1"}
    with running_server(APP, tmp_path_factory.mktemp("npm"), env) as server:
        yield server


async def test_npm_client_backs_off_on_1013_and_gets_in(
    server: ServerProcess, npm_dir: Path
) -> None:
    script = npm_dir / SCRIPT.name
    shutil.copy(SCRIPT, script)
    lines: list[str] = []
    async with RawClient.open(server.url) as occupant:  # the one slot
        await occupant.subscribe(0, "messages:list", {"channel": "npm"})
        await occupant.transition()
        node = await asyncio.create_subprocess_exec(
            "node", str(script), server.url, cwd=npm_dir, stdout=asyncio.subprocess.PIPE
        )
        assert node.stdout is not None
        try:
            with anyio.fail_after(20):
                while not any("WebSocket closed with code 1013" in line for line in lines):
                    lines.append((await node.stdout.readline()).decode().rstrip())
        except TimeoutError:
            node.kill()
            raise AssertionError("\n".join(lines)) from None
    # The slot is free: the client's next attempt gets in and is served.
    async with httpx2.AsyncClient(base_url=server.url, trust_env=False) as http:
        with anyio.fail_after(20):
            while not any('"update"' in line for line in lines):
                lines.append((await node.stdout.readline()).decode().rstrip())
            await http.post(
                "/api/mutation",
                json={"path": "messages:send", "args": {"channel": "npm", "body": "done"}},
            )
            rest, _ = await node.communicate()
    lines += rest.decode().splitlines()
    output = "\n".join(lines)
    assert node.returncode == 0, output
    assert "TooManyConnections" in output and "max_connections" in output
    assert "Attempting reconnect" in output
    assert '{"update":["done"]}' in output
