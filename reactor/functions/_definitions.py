"""The decorators that turn ``async def handler(ctx, args)`` into registered functions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, overload

from reactor.schema import (
    ArgsValidator,
    ReturnsValidator,
    args_validator_from,
    returns_validator_from,
)

__all__ = [
    "FunctionDefinition",
    "FunctionKind",
    "Handler",
    "Visibility",
    "action",
    "internal_action",
    "internal_mutation",
    "internal_query",
    "mutation",
    "query",
]

FunctionKind = Literal["query", "mutation", "action"]
Visibility = Literal["public", "internal"]
Handler = Callable[[Any, Any], Awaitable[Any]]


@dataclass(eq=False)
class FunctionDefinition:
    """A decorated handler: its kind, visibility and validators.

    ``path`` is filled in when an app is loaded (``"dir/module:name"``).
    Calling the definition calls the handler, which keeps plain helpers
    testable without a server.
    """

    kind: FunctionKind
    visibility: Visibility
    handler: Handler
    args: ArgsValidator
    returns: ReturnsValidator
    path: str | None = field(default=None)

    def validate_returns(self, value: Any, ctx: Any = None) -> None:
        self.returns.validate_returns(value, ctx)

    async def __call__(self, ctx: Any, args: Any) -> Any:
        return await self.handler(ctx, args)

    def __repr__(self) -> str:
        name = self.path or getattr(self.handler, "__qualname__", "?")
        return f"<{self.visibility} {self.kind} {name}>"


def _define(kind: FunctionKind, visibility: Visibility) -> Any:
    @overload
    def decorator(fn: Handler, /) -> FunctionDefinition: ...

    @overload
    def decorator(
        fn: None = None, /, *, args: Any = None, returns: Any = None
    ) -> Callable[[Handler], FunctionDefinition]: ...

    def decorator(
        fn: Handler | None = None, /, *, args: Any = None, returns: Any = None
    ) -> FunctionDefinition | Callable[[Handler], FunctionDefinition]:
        def wrap(handler: Handler) -> FunctionDefinition:
            if isinstance(handler, FunctionDefinition):
                raise TypeError(f"{handler!r} is decorated twice")
            if not callable(handler):
                raise TypeError(f"@{kind} decorates an async function, got {handler!r}")
            return FunctionDefinition(
                kind=kind,
                visibility=visibility,
                handler=handler,
                args=args_validator_from(args),
                returns=returns_validator_from(returns),
            )

        if fn is not None:
            return wrap(fn)
        return wrap

    decorator.__name__ = f"{'internal_' if visibility == 'internal' else ''}{kind}"
    return decorator


query = _define("query", "public")
mutation = _define("mutation", "public")
action = _define("action", "public")
internal_query = _define("query", "internal")
internal_mutation = _define("mutation", "internal")
internal_action = _define("action", "internal")
