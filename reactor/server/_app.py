"""``ReactorServer``: the engine, live queries and the ASGI app that serves them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Mapping
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from reactor.auth import Authenticator as JwtAuthenticator
from reactor.auth import load_auth_config, load_or_create_admin_key
from reactor.engine import Engine
from reactor.engine._logs import install_log_capture
from reactor.files import FileCollector, storage_routes
from reactor.functions import App, load_app
from reactor.http import app_router
from reactor.http._asgi import ApiCors, HttpActionRoutes
from reactor.server._admin import admin_routes
from reactor.server._auth import Authenticator, default_authenticator
from reactor.server._config import ServerConfig
from reactor.server._direct_send import Delivery, KeepServerSend
from reactor.server._http import HttpApi, json_response
from reactor.server._overload import Admission, ensure_fd_limit
from reactor.server._runs import FunctionRunner, log_run
from reactor.server._static import static_routes
from reactor.server._uvicorn_guard import guarded_http_protocol, quiet_client_faults
from reactor.server._websocket import serve_sync_socket
from reactor.storage import Store, open_store
from reactor.sync import LiveQueries, purge_session_requests

__all__ = ["ReactorServer", "create_server"]

log = logging.getLogger("reactor.server")


def _version() -> str:
    try:
        return metadata.version("reactor")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "0+unknown"


class ReactorServer:
    """One app served over HTTP and WebSocket.

    ``asgi`` is the Starlette app; ``start()``/``stop()`` run the engine, the live
    queries and background tasks (its lifespan calls them too, so any ASGI
    server can host it). ``serve()`` runs uvicorn in-process, for tests.
    """

    def __init__(
        self,
        app: App,
        store: Store,
        *,
        config: ServerConfig | None = None,
        authenticator: Authenticator | None = None,
        admin_key: str | None = None,
    ) -> None:
        self.app = app
        self.admin_key = admin_key
        self.config = config or ServerConfig()
        self.authenticator: Authenticator = authenticator or default_authenticator
        app_router(app)  # a malformed functions/http.py fails here, not on a request
        self.engine = Engine(app, store)
        if self.config.public_url:
            self.engine.files.configure_public_url(self.config.public_url)
        self.file_collector = FileCollector(self.engine)
        self._files_gc: asyncio.Task[None] | None = None
        self.admission = Admission(
            max_connections=self.config.max_connections,
            max_concurrent_functions=self.config.max_concurrent_functions,
            retry_after_s=self.config.retry_after_s,
        )
        self.runner = FunctionRunner(self.engine, self.admission)
        self._live: LiveQueries | None = None
        self.delivery = Delivery()
        """The live queries' changes reach the connections through it (see ``Delivery``)."""
        self.frames = {"direct": 0, "by_sender": 0}
        """Sync frames written at once by the live queries' callback, and by a
        connection's sender task (responses, pings, updates for slow clients)."""
        self._gc: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._serving: list[asyncio.Event] = []
        http = HttpApi(self)
        routes = [
            WebSocketRoute("/api/sync", self._sync),
            WebSocketRoute("/api/{version}/sync", self._sync),
            Route("/api/query", partial(http.call, kind="query"), methods=["POST"]),
            Route("/api/mutation", partial(http.call, kind="mutation"), methods=["POST"]),
            Route("/api/action", partial(http.call, kind="action"), methods=["POST"]),
            Route("/api/function", partial(http.call, kind=None), methods=["POST"]),
            Route("/api/run/{path:path}", http.run_path, methods=["POST"]),
            Route("/api/query_ts", http.query_ts, methods=["POST"]),
            Route("/api/query_at_ts", http.query_at_ts, methods=["POST"]),
            Route("/version", self._version, methods=["GET"]),
            Route("/health", self._health, methods=["GET"]),
            *admin_routes(self),
            *storage_routes(self.engine, upload_timeout_s=self.config.upload_timeout_s),
            # The app's HTTP actions: after reactor's routes (they own /api/), before
            # the static files (whose last mount matches every path).
            HttpActionRoutes(self),
        ]
        routes += static_routes(app.directory)  # last: API and HTTP-action routes win
        middleware = [Middleware(KeepServerSend)]  # first: it must see the server's own send
        if self.config.cors:
            middleware.append(Middleware(ApiCors, server=self))
        self.asgi = Starlette(
            routes=routes,
            middleware=middleware,
            lifespan=self._lifespan,
            max_body_size=self.config.max_body_bytes,
        )
        # HTTP-02: paths match exactly, so `/a/` is a 404 rather than a redirect to `/a`.
        self.asgi.router.redirect_slashes = False

    @property
    def live(self) -> LiveQueries:
        if self._live is None:
            raise RuntimeError("the server is not started: await server.start()")
        return self._live

    @property
    def started(self) -> bool:
        return self._live is not None

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        async with self._lock:
            if self._live is not None:
                return
            install_log_capture()
            await self.engine.start()
            live = LiveQueries(
                self.engine,
                dev_errors=self.config.dev_errors,
                on_run=lambda result: log_run(result, "subscription"),
                deliver=self.delivery.deliver,
            )
            try:
                await live.start()
            except BaseException:
                await live.stop()
                await self.engine.stop()
                raise
            self._live = live
            self._gc = asyncio.create_task(self._collect_session_requests(), name="reactor-gc")
            self._files_gc = asyncio.create_task(self.file_collector.run(), name="reactor-files-gc")

    async def stop(self) -> None:
        async with self._lock:
            if self._live is None:
                return
            for task in (self._gc, self._files_gc):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            self._gc = self._files_gc = None
            live, self._live = self._live, None
            await live.stop()
            await self.engine.stop()
            close = getattr(self.authenticator, "aclose", None)
            if close is not None:
                await close()

    @contextlib.asynccontextmanager
    async def _lifespan(self, _: Starlette) -> AsyncIterator[None]:
        started_here = not self.started
        if started_here:
            await self.start()
        for event in self._serving:
            event.set()
        try:
            yield
        finally:
            if started_here:
                await self.stop()

    async def __aenter__(self) -> ReactorServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def verify_admin(self, credential: str) -> Mapping[str, Any] | None:
        """Check an admin key (``Convex <key>``); the identity it acts as, if any."""
        return await self.authenticator("Admin", credential)

    async def reload(self, app: App) -> None:
        """Serve a new version of the app in place (``reactor dev``): the schema is
        synced, every live query re-runs, connected clients get fresh results; the
        HTTP actions of the new ``functions/http.py`` serve the next request."""
        app_router(app)  # refuse a malformed http.py before anything changes
        await self.engine.reload(app)
        self.app = app
        await self.live.refresh_all()

    async def _collect_session_requests(self) -> None:
        retention_ms = self.config.session_request_retention_s * 1000
        while True:
            await asyncio.sleep(self.config.session_request_gc_interval_s)  # a timer, not a sync
            try:
                count = await purge_session_requests(self.engine, time.time() * 1000 - retention_ms)
            except Exception:
                log.exception("collecting old _session_requests records failed")
            else:
                if count:
                    log.debug("deleted %d old _session_requests records", count)

    # -- routes ------------------------------------------------------------------

    async def _sync(self, socket: WebSocket) -> None:
        await serve_sync_socket(socket, self)

    async def _version(self, request: Request) -> Response:
        return json_response({"version": _version()})

    async def _health(self, request: Request) -> Response:
        if not self.started:
            return json_response({"status": "starting"}, 503)
        return json_response(
            {
                "status": "ok",
                "ts": self.live.processed_ts,
                "load": self.admission.stats(),
                # Times this process fell behind a shared store's commit-record
                # retention and re-ran every live query (always 0 on SQLite).
                "resyncs": self.engine.committer.resyncs,
                "frames": self.frames,
            }
        )

    # -- uvicorn in-process ------------------------------------------------------

    def uvicorn_config(self, **overrides: Any) -> uvicorn.Config:
        quiet_client_faults()
        ensure_fd_limit(self.config.max_connections)
        options: dict[str, Any] = {
            "lifespan": "on",
            "http": guarded_http_protocol(self.config.header_timeout_s),
            "timeout_keep_alive": self.config.keep_alive_timeout_s,
            "ws_max_size": self.config.max_frame_bytes,
            "ws_ping_interval": self.config.ws_ping_interval_s,
            "ws_ping_timeout": self.config.ws_ping_timeout_s,
            "log_config": None,  # leave the process's logging setup alone
            "timeout_graceful_shutdown": 5,
        }
        options.update(overrides)
        if "port" in overrides:  # `reactor serve`: file URLs name the address it serves
            self.engine.files.bind_address(str(options.get("host", "127.0.0.1")), options["port"])
        return uvicorn.Config(self.asgi, **options)

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Run uvicorn on ``host:port`` (0: a free port) in this event loop; yield the
        base URL (``http://127.0.0.1:<port>``) once requests are served."""
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose
        # proto says TCP, and without it Nagle holds small frames for ~40 ms.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        # Listening now: a client connecting before uvicorn accepts waits in the backlog.
        sock.listen(128)
        bound_port = sock.getsockname()[1]
        self.engine.files.bind_address(host, bound_port)
        server = uvicorn.Server(self.uvicorn_config())
        ready = asyncio.Event()
        self._serving.append(ready)
        task = asyncio.create_task(server.serve(sockets=[sock]), name="reactor-uvicorn")
        waiter = asyncio.create_task(ready.wait())
        try:
            # The lifespan sets `ready` once the engine runs; uvicorn then accepts
            # from the socket, already listening, so no request is refused.
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if not ready.is_set():
                task.result()  # startup failed: raise its error
                raise RuntimeError("uvicorn stopped while starting")
            yield f"http://{host}:{bound_port}"
        finally:
            waiter.cancel()
            self._serving.remove(ready)
            server.should_exit = True
            await asyncio.gather(task, waiter, return_exceptions=True)
            sock.close()


def create_server(
    app_dir: str | Path,
    *,
    db: str | None = None,
    dev_errors: bool = True,
    config: ServerConfig | None = None,
    authenticator: Authenticator | None = None,
) -> ReactorServer:
    """A server for the app in ``app_dir``; the store is ``db`` (a URL or path),
    by default ``sqlite:///<app_dir>/.reactor/data.db``. Without a ``config`` the
    settings are the defaults, then ``REACTOR_<NAME>`` environment variables
    (``ServerConfig.from_env``), with ``dev_errors`` as given.

    Tokens are checked against the JWT providers of ``<app>/auth.py``; the
    admin key is ``REACTOR_ADMIN_KEY`` or ``<app>/.reactor/admin_key`` (made on
    first start)."""
    root = Path(app_dir).resolve()
    if db is None:
        data = root / ".reactor"
        data.mkdir(parents=True, exist_ok=True)
        db = f"sqlite://{data / 'data.db'}"
    if config is None:
        config = ServerConfig.from_env(dev_errors=dev_errors)
    admin_key = load_or_create_admin_key(root / ".reactor")
    if authenticator is None:
        authenticator = JwtAuthenticator(load_auth_config(root), admin_key=admin_key)
    return ReactorServer(
        load_app(root),
        open_store(db),
        config=config,
        authenticator=authenticator,
        admin_key=admin_key,
    )
