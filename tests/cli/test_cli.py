"""The `reactor` command line, as a user runs it: real processes, a real server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from reactor_process import serve_app

from reactor.client import ReactorClient

ADMIN_KEY = "reactor-admin|cli-test-key"
ENV = {"REACTOR_ADMIN_KEY": ADMIN_KEY}


def make_app(folder: Path) -> Path:
    (folder / "functions").mkdir(parents=True)
    (folder / "functions" / "__init__.py").write_text("")
    (folder / "functions" / "notes.py").write_text(
        textwrap.dedent(
            """
            from reactor import internal_mutation, mutation, query, v

            @query(args={})
            async def all(ctx, args):
                return [n["text"] for n in await ctx.db.query("notes").collect()]

            @mutation(args={"text": v.string()})
            async def add(ctx, args):
                print("adding", args["text"])
                return await ctx.db.insert("notes", args)

            @internal_mutation(args={})
            async def wipe(ctx, args):
                for n in await ctx.db.query("notes").collect():
                    await ctx.db.delete(n["_id"])
                return "wiped"

            @query(args={"name": v.string()})
            async def setting(ctx, args):
                return await ctx.env.get(args["name"])
            """
        )
    )
    return folder


def reactor(*args: str, app: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reactor", *args, "--app", str(app)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **ENV},
    )


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return make_app(tmp_path / "app")


@pytest.fixture
def url(app: Path, tmp_path: Path) -> Iterator[str]:
    with serve_app(app, tmp_path, env=ENV) as served:
        yield served


def test_help_explains_the_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reactor", "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    for command in ("serve", "dev", "run", "env"):
        assert command in result.stdout


def test_run_calls_public_and_internal_functions(app: Path, url: str) -> None:
    added = reactor("run", "notes:add", '{"text": "hello"}', "--url", url, app=app)
    assert added.returncode == 0, added.stderr
    assert "adding hello" in added.stdout  # the function's own log line
    listed = reactor("run", "notes:all", "--url", url, app=app)
    assert '"hello"' in listed.stdout
    wiped = reactor("run", "notes:wipe", "--url", url, app=app)  # internal: admin key
    assert wiped.returncode == 0 and '"wiped"' in wiped.stdout
    assert '"hello"' not in reactor("run", "notes:all", "--url", url, app=app).stdout


def test_run_reports_errors_clearly(app: Path, url: str) -> None:
    unknown = reactor("run", "notes:nope", "--url", url, app=app)
    assert unknown.returncode == 1
    assert "Could not find" in unknown.stderr
    bad_args = reactor("run", "notes:add", "{not json", "--url", url, app=app)
    assert bad_args.returncode == 1 and "JSON object" in bad_args.stderr
    down = reactor("run", "notes:all", "--url", "http://127.0.0.1:1", app=app)
    assert down.returncode == 1 and "no reactor server answers" in down.stderr


def test_internal_functions_need_the_admin_key(url: str) -> None:
    response = httpx2.post(f"{url}/api/mutation", json={"path": "notes:wipe", "args": {}})
    assert response.json()["status"] == "error"
    assert "Could not find" in response.json()["errorMessage"]


def test_env_set_get_list_remove(app: Path, url: str) -> None:
    assert reactor("env", "set", "API_KEY", "s3cret", "--url", url, app=app).returncode == 0
    got = reactor("env", "get", "API_KEY", "--url", url, app=app)
    assert got.stdout.strip() == "s3cret"
    assert "API_KEY" in reactor("env", "list", "--url", url, app=app).stdout
    read = reactor("run", "notes:setting", '{"name": "API_KEY"}', "--url", url, app=app)
    assert '"s3cret"' in read.stdout
    bad = reactor("env", "set", "1bad", "x", "--url", url, app=app)
    assert bad.returncode == 1 and "invalid environment variable name" in bad.stderr
    assert reactor("env", "remove", "API_KEY", "--url", url, app=app).returncode == 0
    assert reactor("env", "get", "API_KEY", "--url", url, app=app).returncode == 1
    # Without the admin key the endpoint refuses.
    assert httpx2.get(f"{url}/api/admin/env").status_code == 401


def test_dev_reloads_functions_and_clients_get_fresh_results(app: Path, tmp_path: Path) -> None:
    with serve_app(app, tmp_path, env=ENV, command="dev") as served:
        client = ReactorClient(served)
        try:
            client.mutation("notes:add", {"text": "b"})
            updates = client.subscribe("notes:all", {})
            assert next(updates) == ["b"]
            source = app / "functions" / "notes.py"
            source.write_text(
                source.read_text().replace(
                    'return [n["text"] for n in', 'return [n["text"].upper() for n in'
                )
            )
            deadline = time.monotonic() + 20
            value = next(updates)
            while value != ["B"] and time.monotonic() < deadline:
                value = next(updates)
            assert value == ["B"]
        finally:
            client.close()
