"""reactor.server._static: an app's public/ folder and the npm convex package over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reactor.server._static import find_npm_package, static_routes

pytestmark = pytest.mark.anyio

CHAT = Path(__file__).resolve().parents[2] / "examples" / "chat"


def make_app(root: Path, *, public: bool = True, lock: bool = True) -> Path:
    (root / "functions").mkdir(parents=True)
    if public:
        (root / "public").mkdir()
        (root / "public" / "index.html").write_text("<!doctype html><title>home</title>")
        (root / "public" / "app.js").write_text("export const x = 1;\n")
    if lock:
        (root / "package.json").write_text('{"dependencies": {"convex": "1.48.0"}}')
        (root / "package-lock.json").write_text("{}")
    return root


def install_fake_convex(node_modules_parent: Path) -> None:
    package = node_modules_parent / "node_modules" / "convex"
    (package / "dist" / "esm" / "browser").mkdir(parents=True)
    (package / "package.json").write_text(json.dumps({"name": "convex", "version": "1.48.0"}))
    (package / "dist" / "esm" / "browser" / "index.js").write_text("export class ConvexClient {}")


async def api(request: Request) -> JSONResponse:
    return JSONResponse({"api": request.url.path})


def server_with(app_dir: Path) -> Starlette:
    """Like ReactorServer's routes: the API first, the static routes last."""
    return Starlette(
        routes=[
            Route("/api/query", api, methods=["POST"]),
            Route("/version", api, methods=["GET"]),
            Route("/webhooks/{name}", api, methods=["GET", "POST"]),  # an HTTP action
            *static_routes(app_dir),
        ]
    )


@pytest.fixture
def client_for() -> Callable[[Path], httpx2.AsyncClient]:
    def make(app_dir: Path) -> httpx2.AsyncClient:
        transport = httpx2.ASGITransport(app=server_with(app_dir))
        return httpx2.AsyncClient(transport=transport, base_url="http://testserver")

    return make


@pytest.fixture
async def app_client(
    tmp_path: Path, client_for: Callable[[Path], httpx2.AsyncClient]
) -> AsyncIterator[tuple[Path, httpx2.AsyncClient]]:
    root = make_app(tmp_path / "app")
    async with client_for(root) as client:
        yield root, client


async def test_public_files_are_served_at_the_root(
    app_client: tuple[Path, httpx2.AsyncClient],
) -> None:
    _, client = app_client
    index = await client.get("/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert "<title>home</title>" in index.text
    script = await client.get("/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert (await client.get("/missing.css")).status_code == 404


async def test_api_and_http_action_routes_take_precedence(
    app_client: tuple[Path, httpx2.AsyncClient],
) -> None:
    root, client = app_client
    (root / "public" / "version").write_text("shadowed")
    (root / "public" / "webhooks").mkdir()
    (root / "public" / "webhooks" / "stripe").write_text("shadowed")
    assert (await client.get("/version")).json() == {"api": "/version"}
    assert (await client.post("/api/query", json={})).json() == {"api": "/api/query"}
    assert (await client.get("/webhooks/stripe")).json() == {"api": "/webhooks/stripe"}


async def test_the_convex_package_is_found_once_installed(
    app_client: tuple[Path, httpx2.AsyncClient],
) -> None:
    root, client = app_client
    url = "/vendor/convex/dist/esm/browser/index.js"
    missing = await client.get(url)
    assert missing.status_code == 404
    assert f"npm ci --prefix {root.resolve()}" in missing.text
    install_fake_convex(root)  # while the server runs
    found = await client.get(url)
    assert found.status_code == 200
    assert "javascript" in found.headers["content-type"]
    assert found.text == "export class ConvexClient {}"
    assert (await client.get("/vendor/convex/nope.js")).status_code == 404


async def test_the_convex_package_may_live_in_a_parent_folder(
    tmp_path: Path, client_for: Callable[[Path], httpx2.AsyncClient]
) -> None:
    root = make_app(tmp_path / "apps" / "one", lock=False)
    install_fake_convex(tmp_path)
    assert find_npm_package(root) == tmp_path / "node_modules" / "convex"
    async with client_for(root) as client:
        response = await client.get("/vendor/convex/package.json")
    assert response.json()["name"] == "convex"


async def test_install_hint_without_a_package_json(
    tmp_path: Path, client_for: Callable[[Path], httpx2.AsyncClient]
) -> None:
    root = make_app(tmp_path / "app", lock=False)
    async with client_for(root) as client:
        response = await client.get("/vendor/convex/dist/esm/browser/index.js")
    assert response.status_code == 404
    assert f"npm install --prefix {root.resolve()} convex" in response.text


def test_an_app_without_public_gets_no_routes(tmp_path: Path) -> None:
    assert static_routes(make_app(tmp_path / "app", public=False)) == []
    assert static_routes(None) == []


async def test_websockets_to_static_paths_are_refused(tmp_path: Path) -> None:
    app = server_with(make_app(tmp_path / "app"))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    for path in ("/", "/vendor/convex/x.js"):
        sent.clear()
        scope = {
            "type": "websocket",
            "path": path,
            "root_path": "",
            "headers": [],
            "query_string": b"",
        }
        await app(scope, receive, send)
        assert [m["type"] for m in sent] == ["websocket.close"]


async def test_the_chat_example_has_a_page(
    client_for: Callable[[Path], httpx2.AsyncClient],
) -> None:
    async with client_for(CHAT) as client:
        page = await client.get("/")
        script = await client.get("/app.js")
    assert page.status_code == 200
    assert '<script type="module" src="/app.js">' in page.text
    assert "/vendor/convex/dist/esm/browser/index.js" in script.text
