"""``api`` and ``internal``: attribute paths that name functions.

``api.admin.users.list_all`` is the reference ``"admin/users:list_all"``. A
plain string path is accepted wherever a reference is.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["FunctionReference", "api", "canonical_path", "function_path", "internal"]

_CACHED_PATH_LENGTH = 256
"""Path strings up to this long are parsed once (see ``_string_path``)."""


class FunctionReference:
    __slots__ = ("_parts",)

    def __init__(self, parts: tuple[str, ...] = ()) -> None:
        self._parts = parts

    def __getattr__(self, name: str) -> FunctionReference:
        if name.startswith("__"):
            raise AttributeError(name)
        return FunctionReference((*self._parts, name))

    @property
    def path(self) -> str:
        if len(self._parts) < 2:
            raise ValueError(f"a function reference needs a module and a name, got {self._parts}")
        return "/".join(self._parts[:-1]) + ":" + self._parts[-1]

    def __str__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"FunctionReference({'.'.join(self._parts)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FunctionReference) and self._parts == other._parts

    def __hash__(self) -> int:
        return hash(self._parts)


api = FunctionReference()
internal = FunctionReference()


def function_path(ref: Any) -> str:
    """The normalized path ``"module/path:name"`` for a reference, definition or string.

    Accepts the forms the official clients send: ``mod.js:fn`` and ``mod`` (the
    default export).
    """
    if type(ref) is str and 0 < len(ref) <= _CACHED_PATH_LENGTH:
        return _string_path(ref)  # the common case: every call from a client
    if isinstance(ref, FunctionReference):
        return ref.path
    path = getattr(ref, "path", None)
    if isinstance(path, str) and not isinstance(ref, str):
        return path
    if not isinstance(ref, str) or not ref:
        raise TypeError(f"expected a function reference or path string, got {ref!r}")
    return _parse_path(ref)


# Cached: every function run resolves its path (more than once). The strings
# come from clients, so the cache is bounded and keeps only short ones.
@functools.lru_cache(maxsize=1024)
def _string_path(ref: str) -> str:
    return _parse_path(ref)


def _parse_path(ref: str) -> str:
    module, _, name = ref.partition(":")
    if module.endswith(".js"):
        module = module[:-3]
    return f"{module}:{name or 'default'}"


def canonical_path(ref: Any) -> str:
    """The form stored in system tables, as Convex stores it: ``"module.js:name"``."""
    module, _, name = function_path(ref).partition(":")
    return f"{module}.js:{name}"
