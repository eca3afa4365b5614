"""Where in a value a problem is, as ``.items[2].when``, built only when needed."""

from __future__ import annotations

import re

import orjson

from reactor.errors import InvalidValueError
from reactor.values._limits import MAX_KEY_LENGTH

_SHOWN = 40
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class PathError(Exception):
    """A problem found deep inside a value, collecting its path on the way up.

    Walkers raise it at the leaf and each enclosing container adds its own
    segment while the exception passes through, so that a walk that succeeds
    never spends time formatting paths.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self._segments: list[str] = []

    def add_key(self, key: object) -> None:
        if isinstance(key, str) and len(key) <= MAX_KEY_LENGTH and _PLAIN_KEY.fullmatch(key):
            self._segments.append(f".{key}")
        else:
            self._segments.append(f"[{_quote(key)}]")

    def add_index(self, index: int) -> None:
        self._segments.append(f"[{index}]")

    def path(self, base: str = "") -> str:
        return base + "".join(reversed(self._segments))

    def to_invalid(self, base: str = "") -> InvalidValueError:
        return invalid(self.message, self.path(base))


def invalid(message: str, path: str) -> InvalidValueError:
    return InvalidValueError(f"{message} (at {path})" if path else message)


def _quote(key: object) -> str:
    # A key can be megabytes long (a hostile argument): never echo more than a
    # valid key could be, or the message would be as large as the input.
    if isinstance(key, str):
        if len(key) > MAX_KEY_LENGTH:
            key = key[:_SHOWN] + "..."
        try:
            return orjson.dumps(key).decode()
        except TypeError:
            pass
    text = repr(key)
    return text if len(text) <= MAX_KEY_LENGTH else text[:_SHOWN] + "..."
