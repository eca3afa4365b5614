"""Turning a client's token into an identity (pluggable; JWT providers come later)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeAlias

from reactor.errors import AuthError
from reactor.sync import TokenType

__all__ = ["Authenticator", "default_authenticator"]

Authenticator: TypeAlias = Callable[[TokenType, str | None], Awaitable[Mapping[str, Any] | None]]
"""``await authenticator(token_type, token)``: the identity (``ctx.auth``'s dict) or
None for anonymous; raises ``reactor.errors.AuthError`` to refuse the token.
``token_type`` is ``"User"`` (a JWT: WebSocket ``Authenticate`` or HTTP
``Authorization: Bearer``), ``"Admin"`` (an admin key: ``Authorization: Convex``)
or ``"None"`` (no token)."""


async def default_authenticator(
    token_type: TokenType, token: str | None
) -> Mapping[str, Any] | None:
    """Anonymous access only: no auth provider is configured yet."""
    if token_type == "None":
        return None
    raise AuthError("no auth providers are configured")
