"""What the client raises besides ``reactor.ConvexError``.

::

    ReactorClientError              base: anything the client reports
    ├── FunctionError               the function failed (not with a ConvexError)
    ├── ConnectionLostError         an action was in flight when the socket died
    ├── AuthenticationError         the server refused the token (AuthError)
    └── ClientClosedError           the client was closed (or the server ended it)
"""

from __future__ import annotations

from typing import Any

from reactor.errors import ConvexError
from reactor.sync import NO_ERROR_DATA, NoErrorData

__all__ = [
    "AuthenticationError",
    "ClientClosedError",
    "ConnectionLostError",
    "FunctionError",
    "ReactorClientError",
    "function_error",
]


class ReactorClientError(Exception):
    """Base of the errors the client raises, other than ``ConvexError``."""


class FunctionError(ReactorClientError):
    """A query, mutation or action failed; ``str(error)`` is the server's message
    (e.g. ``"Uncaught RuntimeError: boom"``) and ``path`` names the function."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path


class ConnectionLostError(ReactorClientError):
    """The connection dropped while an action was running. Actions are not
    idempotent, so the client does not re-send them: it may or may not have run."""


class AuthenticationError(ReactorClientError):
    """The server refused the token given to ``set_auth``; the client carries on
    without one (anonymous), as it would after ``set_auth(None)``."""


class ClientClosedError(ReactorClientError):
    """The client is closed: calls in flight fail and new ones are refused."""


def function_error(message: str, error_data: Any | NoErrorData, path: str) -> Exception:
    """The exception for a failed function: ``ConvexError`` exactly when the server
    sent ``errorData`` (even ``null``: that is ``ConvexError(None)``)."""
    if error_data is NO_ERROR_DATA:
        return FunctionError(message, path)
    return ConvexError(error_data)
