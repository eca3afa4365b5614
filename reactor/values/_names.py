"""The rule every object key (field name) follows (SEMANTICS.md TYPE-07)."""

from __future__ import annotations

import functools

from reactor.values._limits import MAX_KEY_LENGTH


def field_name_problem(key: str) -> str | None:
    """Why ``key`` is not a valid field name, or None when it is."""
    if len(key) > MAX_KEY_LENGTH:
        # Kept out of the cache: an oversized key would otherwise stay pinned in memory.
        return f"field name {_show(key)} is longer than {MAX_KEY_LENGTH} characters"
    return _short_field_name_problem(key)


# Cached: the same few field names are checked on every write.
@functools.lru_cache(maxsize=4096)
def _short_field_name_problem(key: str) -> str | None:
    if not key:
        return "field name is empty"
    # For ASCII text, isprintable() is exactly the range 0x20-0x7E.
    if not (key.isascii() and key.isprintable()):
        return f"field name {_show(key)} may only contain printable ASCII characters"
    if key[0] == "$":
        return f"field name {_show(key)} starts with '$', which is reserved"
    return None


def _show(key: str) -> str:
    return repr(key if len(key) <= 40 else key[:40] + "...")
