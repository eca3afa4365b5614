"""Convex's structural limits on values and documents (SEMANTICS.md TYPE-08, LIM-01)."""

from __future__ import annotations

from typing import Final

MAX_DOCUMENT_SIZE: Final = 1_048_576
"""Largest document, system fields included, in ``value_size`` bytes (1 MiB)."""

MAX_NESTING: Final = 16
"""Deepest nesting of arrays and objects in a stored value; a document itself is level 1."""

MAX_FIELDS: Final = 1024
"""Most fields in one object (each nested object counts on its own)."""

MAX_ARRAY_LENGTH: Final = 8192
"""Most elements in one array."""

MAX_KEY_LENGTH: Final = 1024
"""Longest object key, in characters."""

MAX_VALUE_NESTING: Final = 64
"""Nesting beyond which no value is accepted at all, stored or not.

Convex bounds every value (arguments and return values too) at 64 levels; the
walkers here also rely on it to fail cleanly on cyclic or hostile input
instead of exhausting the interpreter's recursion limit.
"""

MAX_SAFE_FLOAT_INT: Final = 2**53
"""Largest magnitude of a plain ``int`` accepted as a float64 (2**53, as the Python client)."""
