"""HTTP actions: ``HttpRouter`` and ``@http_action`` for ``functions/http.py``.

They are served on the server's own port, at the app's paths (Convex serves
them on a separate ``.convex.site`` origin); paths under ``/api/`` stay
reactor's. The serving side is ``reactor.http._asgi``, mounted by the server.
"""

from reactor.http._action import HttpAction, HttpHandler, http_action
from reactor.http._cors import CorsConfig
from reactor.http._router import (
    ROUTABLE_METHODS,
    HttpRoute,
    HttpRouteError,
    HttpRouter,
    app_router,
    is_reserved_path,
)

__all__ = [
    "ROUTABLE_METHODS",
    "CorsConfig",
    "HttpAction",
    "HttpHandler",
    "HttpRoute",
    "HttpRouteError",
    "HttpRouter",
    "app_router",
    "http_action",
    "is_reserved_path",
]
