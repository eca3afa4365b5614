"""The reactor server: the Convex sync protocol over WebSocket and the HTTP function
API, on Starlette and uvicorn (ARCHITECTURE.md decision 8).

    server = create_server("path/to/app")            # sqlite:///<app>/.reactor/data.db
    uvicorn.run(server.asgi)                          # or: async with server.serve() as url
"""

from reactor.server._app import ReactorServer, create_server
from reactor.server._auth import Authenticator, default_authenticator
from reactor.server._config import ServerConfig
from reactor.server._runs import log_run

__all__ = [
    "Authenticator",
    "ReactorServer",
    "ServerConfig",
    "create_server",
    "default_authenticator",
    "log_run",
]
