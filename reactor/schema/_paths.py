"""Dotted field paths (``"author.name"``), as indexes and filters read them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reactor.values._int64 import UNSET


def get_field_path(doc: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` in ``doc``, or ``UNSET`` if it is missing.

    A path through anything that is not an object (an array included:
    there is no multikey indexing, Q-09) resolves to ``UNSET``.
    """
    if "." not in path:
        return doc.get(path, UNSET)
    current: Any = doc
    for part in path.split("."):
        if not isinstance(current, dict):
            return UNSET
        current = current.get(part, UNSET)
    return current
