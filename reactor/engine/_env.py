"""Deployment environment variables: ``await ctx.env.get(name)``.

They live in the system table ``_environment_variables`` and are read inside
the caller's transaction, so a live query that read one re-runs when it
changes. They are never sent to clients except through a function that
returns one. Set them with ``reactor env set NAME VALUE``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from reactor.errors import ReactorError

if TYPE_CHECKING:
    from reactor.engine._engine import Engine
    from reactor.engine._transaction import Transaction

__all__ = ["Env", "check_env_name", "check_env_value"]

TABLE = "_environment_variables"
MAX_NAME_LENGTH = 40
MAX_VALUE_BYTES = 8 * 1024
MAX_VARIABLES = 512
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def check_env_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise ReactorError(
            f"invalid environment variable name {name!r}: a letter, then letters, digits "
            f"or underscores, at most {MAX_NAME_LENGTH} characters"
        )
    return name


def check_env_value(value: Any) -> str:
    if not isinstance(value, str):
        raise ReactorError("an environment variable's value is a string")
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise ReactorError(f"environment variable values are at most {MAX_VALUE_BYTES} bytes")
    return value


async def read_env(tx: Transaction, pagination: Any, name: str) -> str | None:
    from reactor.engine._database import SystemReader

    row = await (
        SystemReader(tx, pagination)
        .query(TABLE)
        .with_index("by_name", lambda r: r.eq("name", name))
        .unique()
    )
    return None if row is None else str(row["value"])


class Env:
    """``ctx.env``: read a deployment environment variable (None if unset)."""

    def __init__(self, engine: Engine, tx: Transaction | None, pagination: Any = None) -> None:
        self._engine = engine
        self._tx = tx
        self._pagination = pagination

    async def get(self, name: str) -> str | None:
        check_env_name(name)
        if self._tx is not None:
            return await read_env(self._tx, self._pagination, name)
        return await self._engine.get_env(name)
