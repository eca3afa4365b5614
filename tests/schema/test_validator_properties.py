"""Properties over random validators: values built to match them always pass."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reactor.errors import ValidationError
from reactor.schema import Validator, v
from reactor.values._int64 import INT64_MAX, INT64_MIN, Int64

Spec = tuple[Validator, st.SearchStrategy[Any]]

field_names = st.from_regex(r"[a-z][a-zA-Z0-9_]{0,8}", fullmatch=True)
record_keys = st.from_regex(r"[a-zA-Z0-9][ -~]{0,8}", fullmatch=True)
exact_ints = st.integers(-(2**53), 2**53)

leaves: st.SearchStrategy[Spec] = st.sampled_from(
    [
        (v.null(), st.none()),
        (v.number(), st.floats() | exact_ints),
        (v.int64(), st.integers(INT64_MIN, INT64_MAX).map(Int64)),
        (v.boolean(), st.booleans()),
        (v.string(), st.text(max_size=5)),
        (v.bytes(), st.binary(max_size=5)),
        (v.any(), st.none() | st.integers() | st.text(max_size=3)),
        (v.literal("on"), st.just("on")),
        (v.literal(2), st.sampled_from([2, 2.0])),
        (v.literal(Int64(2)), st.just(Int64(2))),
    ]
)


def objects(children: st.SearchStrategy[Spec]) -> st.SearchStrategy[Spec]:
    def build(fields: dict[str, tuple[Spec, bool]]) -> Spec:
        validator = v.object(
            {name: v.optional(spec[0]) if opt else spec[0] for name, (spec, opt) in fields.items()}
        )
        values = st.fixed_dictionaries(
            {name: spec[1] for name, (spec, opt) in fields.items() if not opt},
            optional={name: spec[1] for name, (spec, opt) in fields.items() if opt},
        )
        return validator, values

    return st.dictionaries(field_names, st.tuples(children, st.booleans()), max_size=3).map(build)


def extend(children: st.SearchStrategy[Spec]) -> st.SearchStrategy[Spec]:
    arrays = children.map(lambda c: (v.array(c[0]), st.lists(c[1], max_size=3)))
    records = children.map(
        lambda c: (v.record(v.string(), c[0]), st.dictionaries(record_keys, c[1], max_size=3))
    )
    unions = st.lists(children, min_size=1, max_size=3).map(
        lambda cs: (v.union(*(c[0] for c in cs)), st.one_of(*(c[1] for c in cs)))
    )
    return arrays | records | unions | objects(children)


specs = st.recursive(leaves, extend, max_leaves=8)


@settings(database=None, max_examples=200)
@given(st.data())
def test_values_built_for_a_validator_pass_it(data: st.DataObject) -> None:
    validator, values = data.draw(specs)
    validator.validate(data.draw(values))


@settings(database=None, max_examples=100)
@given(st.data())
def test_objects_reject_any_unknown_field(data: st.DataObject) -> None:
    validator, values = data.draw(objects(specs))
    value = data.draw(values)
    value["zz_unknown_field"] = None
    with pytest.raises(ValidationError, match="extra field `zz_unknown_field`"):
        validator.validate(value)


@settings(database=None, max_examples=100)
@given(specs)
def test_json_and_equality_are_stable(spec: Spec) -> None:
    validator, _ = spec
    assert validator == validator
    assert validator.to_json() == validator.to_json()
    assert hash(validator) == hash(validator)
