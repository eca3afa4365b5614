"""``HttpRouter``: the routes of ``functions/http.py`` (HTTP-01, HTTP-02).

    http = HttpRouter()

    @http.route("/webhooks/stripe", method="POST")
    @http_action
    async def stripe(ctx, request): ...

    http.route(path_prefix="/files/", method="GET", handler=serve_file)

Matching, for a request's method (HEAD looks up GET): the exact route for the
path if there is one, else the longest matching prefix route, else nothing
(a 404). ``path`` must begin with ``/`` and matches only itself (``/a`` is not
``/a/``); ``path_prefix`` must begin and end with ``/``. Routing a path and
method twice is an error when ``http.py`` is imported, so the app fails to
load. Paths under ``/api/`` belong to reactor (the sync and HTTP APIs, file
storage), as do ``/version`` and ``/health``: routing them is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, overload

from reactor.errors import ReactorError
from reactor.http._action import HttpAction, HttpHandler
from reactor.http._cors import CorsConfig

__all__ = [
    "ROUTABLE_METHODS",
    "HttpRoute",
    "HttpRouteError",
    "HttpRouter",
    "app_router",
    "is_reserved_path",
]

ROUTABLE_METHODS: Final = ("GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")
_RESERVED_EXACT: Final = frozenset({"/api", "/version", "/health", "/.files"})
_RESERVED_PREFIXES: Final = ("/api/", "/.files/")


class HttpRouteError(ReactorError):
    """A route that cannot be defined: a bad path or method, a reserved path, a duplicate."""


def is_reserved_path(path: str) -> bool:
    """Whether ``path`` belongs to reactor rather than to the app's HTTP actions."""
    return path in _RESERVED_EXACT or path.startswith(_RESERVED_PREFIXES)


@dataclass(frozen=True)
class HttpRoute:
    path: str
    """The exact path, or the prefix (ending with ``/``) when ``prefix``."""
    prefix: bool
    method: str
    action: HttpAction

    @property
    def pattern(self) -> str:
        """``/a`` or ``/p/*``, as Convex names a matched route in its logs."""
        return f"{self.path}*" if self.prefix else self.path


class HttpRouter:
    """The HTTP actions of an app: ``http = HttpRouter()`` in ``functions/http.py``."""

    def __init__(self) -> None:
        self._exact: dict[str, dict[str, HttpRoute]] = {}
        self._prefixes: dict[str, dict[str, HttpRoute]] = {}  # method -> prefix -> route
        self.cors_config: CorsConfig | None = None

    @overload
    def route(
        self,
        path: str | None = None,
        *,
        method: str,
        path_prefix: str | None = None,
        handler: None = None,
    ) -> Callable[[HttpAction | HttpHandler], HttpAction]: ...

    @overload
    def route(
        self,
        path: str | None = None,
        *,
        method: str,
        path_prefix: str | None = None,
        handler: HttpAction | HttpHandler,
    ) -> HttpAction: ...

    def route(
        self,
        path: str | None = None,
        *,
        method: str,
        path_prefix: str | None = None,
        handler: HttpAction | HttpHandler | None = None,
    ) -> HttpAction | Callable[[HttpAction | HttpHandler], HttpAction]:
        """Route ``method`` on ``path`` (exact) or ``path_prefix`` to an HTTP action:
        as a decorator, or with ``handler=`` as Convex's ``http.route({...})``."""
        where, prefix = _check_path(path, path_prefix)
        method = _check_method(method)

        def add(action: HttpAction | HttpHandler) -> HttpAction:
            if not isinstance(action, HttpAction):
                action = HttpAction(action)
            table = (
                self._prefixes.setdefault(method, {})
                if prefix
                else self._exact.setdefault(where, {})
            )
            key = where if prefix else method
            if key in table:
                kind = "path prefix" if prefix else "path"
                raise HttpRouteError(f"{kind} {where!r} for method {method} is routed twice")
            table[key] = HttpRoute(where, prefix, method, action)
            return action

        return add if handler is None else add(handler)

    def cors(
        self,
        *,
        allowed_origins: Iterable[str],
        allowed_headers: Iterable[str] = ("Content-Type", "Authorization"),
        exposed_headers: Iterable[str] = (),
        allow_credentials: bool = False,
        max_age_s: int = 86400,
    ) -> None:
        """Answer CORS preflights for every routed path, and mark responses to
        ``allowed_origins`` (exact origins, or ``"*"``) as readable by them."""
        if isinstance(allowed_origins, str):
            raise TypeError("allowed_origins is a list of origins, not one string")
        self.cors_config = CorsConfig(
            tuple(allowed_origins),
            tuple(allowed_headers),
            tuple(exposed_headers),
            allow_credentials,
            max_age_s,
        )

    def lookup(self, method: str, path: str) -> HttpRoute | None:
        """The route serving ``method path``: exact beats prefix, the longest prefix wins."""
        method = "GET" if method.upper() == "HEAD" else method.upper()
        if is_reserved_path(path):
            return None
        exact = self._exact.get(path, {}).get(method)
        if exact is not None:
            return exact
        best: HttpRoute | None = None
        for prefix, route in self._prefixes.get(method, {}).items():
            if path.startswith(prefix) and (best is None or len(prefix) > len(best.path)):
                best = route
        return best

    def methods_for(self, path: str) -> set[str]:
        """Every method some route serves at ``path`` (HEAD with GET)."""
        methods = {m for m in ROUTABLE_METHODS if self.lookup(m, path) is not None}
        if "GET" in methods:
            methods.add("HEAD")
        return methods

    def routes(self) -> list[HttpRoute]:
        """Every route: exact ones by path, then prefixes, longest first."""
        exact = [r for by_method in self._exact.values() for r in by_method.values()]
        prefixes = [r for by_prefix in self._prefixes.values() for r in by_prefix.values()]
        exact.sort(key=lambda r: (r.path, r.method))
        prefixes.sort(key=lambda r: (-len(r.path), r.path, r.method))
        return exact + prefixes


def _check_method(method: Any) -> str:
    if not isinstance(method, str) or method.upper() not in ROUTABLE_METHODS:
        detail = " (HEAD is served by the GET route)" if method == "HEAD" else ""
        raise HttpRouteError(
            f"method must be one of {', '.join(ROUTABLE_METHODS)}, got {method!r}{detail}"
        )
    return method.upper()


def _check_path(path: Any, path_prefix: Any) -> tuple[str, bool]:
    if (path is None) == (path_prefix is None):
        raise HttpRouteError("a route takes exactly one of path= and path_prefix=")
    if path is not None:
        if not isinstance(path, str) or not path.startswith("/"):
            raise HttpRouteError(f"path must begin with '/', got {path!r}")
        if is_reserved_path(path):
            raise HttpRouteError(_reserved(path))
        return path, False
    if not isinstance(path_prefix, str) or not (
        path_prefix.startswith("/") and path_prefix.endswith("/")
    ):
        raise HttpRouteError(f"path_prefix must begin and end with '/', got {path_prefix!r}")
    if path_prefix.startswith(_RESERVED_PREFIXES):
        raise HttpRouteError(_reserved(path_prefix))
    return path_prefix, True


def _reserved(path: str) -> str:
    return (
        f"{path!r} is reserved: reactor serves its API and file storage under /api/ "
        "(and /version, /health) on the same port as HTTP actions; route the action "
        "elsewhere, e.g. under /webhooks/"
    )


def app_router(app: Any) -> HttpRouter | None:
    """The ``http`` router of an app's ``functions/http.py``, if it has one."""
    router = app.module_attr("http", "http")
    if router is None:
        return None
    if not isinstance(router, HttpRouter):
        raise HttpRouteError(
            f"functions/http.py: `http` must be an HttpRouter, got {type(router).__name__}"
        )
    return router
