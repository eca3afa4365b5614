"""HTTP action routing (HTTP-01, HTTP-02): T37, the route rules, reload."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from reactor import HttpRouter, http_action
from reactor.functions import load_app
from reactor.http import HttpAction, HttpRouteError
from reactor.server import ReactorServer, create_server

pytestmark = pytest.mark.anyio

ROUTES_T37 = """
    from starlette.responses import PlainTextResponse
    from reactor import HttpRouter, http_action

    http = HttpRouter()

    def answer(name):
        @http_action
        async def handler(ctx, request):
            return PlainTextResponse(f"{name} {request.method} {request.url.path}")
        return handler

    http.route("/a", method="GET", handler=answer("a"))
    http.route(path_prefix="/p/", method="GET", handler=answer("prefix /p/"))
    http.route(path_prefix="/p/q/", method="GET", handler=answer("prefix /p/q/"))
"""


def write_app(root: Path, http_source: str) -> Path:
    functions = root / "functions"
    functions.mkdir(parents=True, exist_ok=True)
    (functions / "__init__.py").write_text("")
    (functions / "http.py").write_text(textwrap.dedent(http_source))
    return root


@pytest.fixture
async def routing(tmp_path: Path) -> AsyncIterator[tuple[ReactorServer, httpx2.AsyncClient]]:
    app = write_app(tmp_path / "app", ROUTES_T37)
    server = create_server(app, db=str(tmp_path / "data.db"))
    async with (
        server,
        server.serve() as url,
        httpx2.AsyncClient(base_url=url, trust_env=False) as client,
    ):
        yield server, client


async def test_t37_routing_table(routing: tuple[ReactorServer, httpx2.AsyncClient]) -> None:
    _, http = routing
    a = await http.get("/a")
    assert (a.status_code, a.text) == (200, "a GET /a")
    assert (await http.get("/a/")).status_code == 404  # exact means exact: no slash redirect
    assert (await http.get("/p/x")).text == "prefix /p/ GET /p/x"
    assert (await http.get("/p/q/x")).text == "prefix /p/q/ GET /p/q/x"  # longest prefix wins
    assert (await http.get("/p")).status_code == 404  # "/p/" does not match "/p"
    head = await http.head("/a")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(b"a HEAD /a"))  # GET's headers, no body
    assert (await http.post("/a")).status_code == 404  # no POST route


async def test_reactor_paths_stay_reactors(
    routing: tuple[ReactorServer, httpx2.AsyncClient],
) -> None:
    _, http = routing
    assert (await http.get("/version")).status_code == 200
    assert (await http.post("/api/query", json={"path": "x:y"})).status_code == 200
    assert (await http.get("/api/nothing")).status_code == 404


def noop() -> HttpAction:
    @http_action
    async def handler(ctx: object, request: Request) -> Response:
        return Response()

    return handler


def test_exact_beats_prefix_and_methods_are_separate() -> None:
    http = HttpRouter()
    exact, prefix, post = noop(), noop(), noop()
    http.route("/p/x", method="GET", handler=exact)
    http.route(path_prefix="/p/", method="GET", handler=prefix)
    http.route(path_prefix="/p/", method="POST", handler=post)
    assert (found := http.lookup("GET", "/p/x")) is not None and found.action is exact
    assert (found := http.lookup("HEAD", "/p/y")) is not None and found.action is prefix
    assert (found := http.lookup("POST", "/p/x")) is not None and found.action is post
    assert http.lookup("PUT", "/p/x") is None
    assert http.methods_for("/p/x") == {"GET", "HEAD", "POST"}
    assert [r.pattern for r in http.routes()] == ["/p/x", "/p/*", "/p/*"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "a", "method": "GET"}, "path must begin with '/'"),
        ({"path_prefix": "/p", "method": "GET"}, "must begin and end with '/'"),
        ({"path_prefix": "p/", "method": "GET"}, "must begin and end with '/'"),
        ({"path": "/a", "path_prefix": "/p/", "method": "GET"}, "exactly one of"),
        ({"method": "GET"}, "exactly one of"),
        ({"path": "/a", "method": "HEAD"}, "HEAD is served by the GET route"),
        ({"path": "/a", "method": "CONNECT"}, "method must be one of"),
        ({"path": "/api/hook", "method": "POST"}, "reserved"),
        ({"path_prefix": "/api/", "method": "POST"}, "reserved"),
        ({"path": "/health", "method": "GET"}, "reserved"),
    ],
)
def test_bad_routes_are_refused(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(HttpRouteError, match=message):
        HttpRouter().route(**kwargs, handler=noop())  # type: ignore[call-overload]


def test_a_route_defined_twice_is_an_error() -> None:
    http = HttpRouter()
    http.route("/a", method="POST", handler=noop())
    http.route("/a", method="GET", handler=noop())  # another method: fine
    with pytest.raises(HttpRouteError, match="path '/a' for method POST is routed twice"):
        http.route("/a", method="post", handler=noop())
    http.route(path_prefix="/a/", method="POST", handler=noop())  # a prefix is not a path
    with pytest.raises(HttpRouteError, match="path prefix '/a/' for method POST"):
        http.route(path_prefix="/a/", method="POST", handler=noop())


def test_handlers_must_be_async() -> None:
    def sync_handler(ctx: object, request: Request) -> Response:
        return Response()

    with pytest.raises(TypeError, match="async def handler"):
        http_action(sync_handler)


def test_an_app_with_a_bad_http_py_fails_to_load(tmp_path: Path) -> None:
    app = write_app(
        tmp_path / "dup",
        """
        from starlette.responses import Response
        from reactor import HttpRouter, http_action

        http = HttpRouter()

        @http.route("/hook", method="POST")
        @http_action
        async def one(ctx, request):
            return Response()

        @http.route("/hook", method="POST")
        @http_action
        async def two(ctx, request):
            return Response()
        """,
    )
    with pytest.raises(HttpRouteError, match="routed twice"):
        load_app(app)
    write_app(app, "http = 'not a router'\n")
    with pytest.raises(HttpRouteError, match="must be an HttpRouter"):
        create_server(app, db=str(tmp_path / "data.db"))


async def test_reload_serves_the_new_http_py(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", ROUTES_T37)
    server = create_server(app, db=str(tmp_path / "data.db"))
    async with (
        server,
        server.serve() as url,
        httpx2.AsyncClient(base_url=url, trust_env=False) as http,
    ):
        assert (await http.get("/a")).text == "a GET /a"
        write_app(
            app,
            """
            from starlette.responses import PlainTextResponse
            from reactor import HttpRouter, http_action

            http = HttpRouter()

            @http.route("/b", method="GET")
            @http_action
            async def b(ctx, request):
                return PlainTextResponse("b, new")
            """,
        )
        await server.reload(load_app(app))
        assert (await http.get("/a")).status_code == 404
        assert (await http.get("/b")).text == "b, new"


def test_plain_coroutines_are_accepted_as_handlers() -> None:
    http = HttpRouter()

    @http.route("/x", method="GET")
    async def handler(ctx: object, request: Request) -> Response:
        return PlainTextResponse("x")

    assert isinstance(handler, HttpAction)
    assert (found := http.lookup("GET", "/x")) is not None and found.action is handler
