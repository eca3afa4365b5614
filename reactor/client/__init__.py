"""Python clients for a reactor (or Convex) deployment, over the sync protocol.

    from reactor.client import ReactorClient, AsyncReactorClient

    client = ReactorClient("http://127.0.0.1:3210")
    client.mutation("messages:send", {"channel": "general", "body": "hi"})
    for rows in client.subscribe("messages:list", {"channel": "general"}):
        ...                                  # a new value on every change

``AsyncReactorClient`` has the same methods as coroutines, and
``async for value in client.subscribe(...)``. Failed functions raise
``reactor.ConvexError`` (``.data`` is what the function raised with) or
``FunctionError``; every other client error is a ``ReactorClientError``.
"""

from reactor.client._async_client import AsyncReactorClient, AsyncSubscription
from reactor.client._errors import (
    AuthenticationError,
    ClientClosedError,
    ConnectionLostError,
    FunctionError,
    ReactorClientError,
)
from reactor.client._sync_client import ReactorClient, Subscription
from reactor.errors import ConvexError

__all__ = [
    "AsyncReactorClient",
    "AsyncSubscription",
    "AuthenticationError",
    "ClientClosedError",
    "ConnectionLostError",
    "ConvexError",
    "FunctionError",
    "ReactorClient",
    "ReactorClientError",
    "Subscription",
]
