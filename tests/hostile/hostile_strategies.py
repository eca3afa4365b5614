"""Hypothesis strategies for hostile input: any JSON, any Python value, any validator,
and valid client frames to mutate."""

from __future__ import annotations

import os
import uuid
from typing import Any

from hypothesis import strategies as st

from reactor.schema import Validator, v
from reactor.values import INT64_MAX, INT64_MIN, UNSET, Int64, decode_id, new_id


def long_mode() -> bool:
    """``REACTOR_LONG=1`` (``--long`` sets it): more examples per property."""
    return os.environ.get("REACTOR_LONG") == "1"


EXAMPLES = 3000 if long_mode() else 150

# -- JSON ----------------------------------------------------------------------

json_numbers = st.one_of(
    st.integers(-(2**63), 2**64 - 1),  # what orjson can write
    st.floats(allow_nan=False, allow_infinity=False),
)
_b64ish = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", max_size=16
)
json_scalars = st.one_of(st.none(), st.booleans(), json_numbers, st.text(), _b64ish)
special_objects = st.dictionaries(
    st.sampled_from(["$integer", "$bytes", "$float", "$set", "$", "$$"]),
    st.one_of(_b64ish, json_scalars),
    min_size=1,
    max_size=1,
)
json_values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(json_scalars, special_objects),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.text(max_size=8), st.sampled_from(["$integer", "_id"])), inner, max_size=4
        ),
    ),
    max_leaves=20,
)

# -- Python values ------------------------------------------------------------


class Opaque:
    """Not a value; its repr is ordinary."""


class BadRepr:
    """Not a value, and printing it fails (a message must not depend on it)."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


_surrogates = st.text(max_size=4).map(lambda s: s + "\ud800")
_ids = st.integers(1, 2**20).map(new_id)
python_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # any size: beyond 2**53 a plain int is not a float64
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(INT64_MIN, INT64_MAX).map(Int64),
    st.text(),
    _surrogates,
    _ids,
    st.binary(max_size=16),
    st.complex_numbers(),
    st.sampled_from([UNSET, Ellipsis, float("nan"), 2**64, -(2**63) - 1]),
    st.builds(Opaque),
    st.builds(BadRepr),
)
_hashable = st.one_of(
    st.text(max_size=8), st.integers(), st.none(), st.binary(max_size=4), st.tuples(st.integers())
)
python_values: st.SearchStrategy[Any] = st.recursive(
    python_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.frozensets(st.integers(), max_size=3),
        st.dictionaries(st.one_of(st.text(max_size=8), _hashable), inner, max_size=4),
    ),
    max_leaves=20,
)

# -- validators -----------------------------------------------------------------

_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True)
_literals = st.one_of(
    st.text(max_size=5),
    st.booleans(),
    st.floats(allow_nan=True),
    st.integers(-(2**53), 2**53),
    st.integers(INT64_MIN, INT64_MAX).map(Int64),
)
leaf_validators = st.one_of(
    st.sampled_from(
        [
            v.null(),
            v.number(),
            v.float64(),
            v.int64(),
            v.boolean(),
            v.string(),
            v.bytes(),
            v.any(),
            v.id("users"),
        ]
    ),
    _literals.map(v.literal),
)


def _compound(inner: st.SearchStrategy[Validator]) -> st.SearchStrategy[Validator]:
    field = st.one_of(inner, inner.map(v.optional))
    return st.one_of(
        inner.map(v.array),
        st.dictionaries(_names, field, max_size=4).map(v.object),
        st.lists(inner, max_size=4).map(lambda members: v.union(*members)),
        st.builds(v.record, st.sampled_from([v.string(), v.id("users")]), inner),
        inner.map(v.nullable),
    )


validators: st.SearchStrategy[Validator] = st.recursive(leaf_validators, _compound, max_leaves=8)


class IdContext:
    """A ``ValidationContext``: ids of table 1 are "users", others unknown."""

    def table_name_for_id(self, id: str) -> str | None:
        number = decode_id(id)
        return None if number is None else {1: "users"}.get(number, "other")


# -- client frames --------------------------------------------------------------

_u32 = st.integers(0, 2**32 - 1)
_field_names = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=6
).filter(lambda key: not key.startswith("$"))
_args = st.dictionaries(_field_names, json_scalars, max_size=3).map(lambda a: [a])
_add = st.fixed_dictionaries(
    {"type": st.just("Add"), "queryId": _u32, "udfPath": st.text(max_size=12), "args": _args},
    optional={"journal": st.text(max_size=8), "componentPath": st.none()},
)
client_messages = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("Connect"),
            "sessionId": st.uuids().map(str),
            "connectionCount": _u32,
        },
        optional={
            "lastCloseReason": st.text(max_size=10),
            "clientTs": st.integers(0, 2**53),
            "maxObservedTimestamp": st.sampled_from(["AAAAAAAAAAA=", "AQAAAAAAAAA="]),
        },
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("ModifyQuerySet"),
            "baseVersion": _u32,
            "newVersion": _u32,
            "modifications": st.lists(
                st.one_of(
                    _add, st.fixed_dictionaries({"type": st.just("Remove"), "queryId": _u32})
                ),
                max_size=3,
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["Mutation", "Action"]),
            "requestId": _u32,
            "udfPath": st.text(max_size=12),
            "args": _args,
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("Authenticate"),
            "tokenType": st.sampled_from(["User", "Admin", "None"]),
            "value": st.text(max_size=10),
            "baseVersion": _u32,
        },
        optional={"impersonating": st.dictionaries(st.text(max_size=4), json_scalars, max_size=2)},
    ),
    st.fixed_dictionaries(
        {"type": st.just("Event"), "eventType": st.text(max_size=8), "event": json_values}
    ),
)


def session_id() -> str:
    return str(uuid.uuid4())
