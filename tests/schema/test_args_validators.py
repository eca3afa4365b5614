"""args= and returns= as the function registry uses them (FN-04, VAL-07, VAL-08, T17)."""

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from reactor.errors import ArgumentValidationError, ReturnsValidationError, SchemaError
from reactor.schema import (
    ArgsValidator,
    args_validator_from,
    returns_validator_from,
    v,
)
from reactor.values._int64 import UNSET, Int64


def test_t17_optional_number_argument() -> None:
    args = args_validator_from({"a": v.optional(v.number())})
    assert args.validate_args({}) == {}
    assert args.validate_args({"a": UNSET}) == {"a": UNSET}
    for bad, path in (({"a": None}, ".a"), ({"a": Int64(1)}, ".a"), ({"a": 1, "b": 2}, "")):
        with pytest.raises(ArgumentValidationError) as caught:
            args.validate_args(bad)
        assert caught.value.path == path


def test_no_args_validator_checks_nothing_but_the_envelope() -> None:
    args = args_validator_from(None)
    anything = {"whatever": [1, {"x": None}]}
    assert args.validate_args(anything) is anything
    assert args.to_json() == {"type": "any"}
    with pytest.raises(ArgumentValidationError, match="must be an object"):
        args.validate_args([1, 2])  # type: ignore[arg-type]


def test_args_may_be_v_object_or_v_any() -> None:
    assert args_validator_from(v.object({"x": v.string()})).validate_args({"x": "1"}) == {"x": "1"}
    assert args_validator_from(v.any()).validator == v.any()
    assert args_validator_from({"x": v.string()}).to_json() == (
        v.object({"x": v.string()}).to_json()
    )


@pytest.mark.parametrize("spec", [v.string(), v.union(v.object({})), [v.string()], "x", 3])
def test_other_args_specs_are_refused(spec: Any) -> None:
    with pytest.raises(SchemaError, match="args must be a dict of validators"):
        args_validator_from(spec)


def test_argument_errors_are_argument_validation_errors() -> None:
    args = args_validator_from({"items": v.array(v.object({"qty": v.number()}))})
    with pytest.raises(ArgumentValidationError) as caught:
        args.validate_args({"items": [{"qty": 1}, {"qty": "2"}]})
    assert caught.value.path == ".items[1].qty"


class Item(BaseModel):
    sku: str
    qty: int


class Order(BaseModel):
    items: list[Item]
    note: str | None = None
    ratio: float = 1.0


class Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")
    n: int


def test_a_model_instance_is_what_the_handler_receives() -> None:
    args = args_validator_from(Order)
    assert isinstance(args, ArgsValidator)
    order = args.validate_args({"items": [{"sku": "a", "qty": 2}]})
    assert order == Order(items=[Item(sku="a", qty=2)])


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"items": [{"sku": "a", "qty": "1"}]}, ".items[0].qty"),
        ({"items": [{"sku": 1, "qty": 1}]}, ".items[0].sku"),
        ({"items": [{"sku": "a", "qty": 1.5}]}, ".items[0].qty"),
        ({"items": [{"sku": "a", "qty": True}]}, ".items[0].qty"),
        ({"items": [], "ratio": "1.0"}, ".ratio"),
        ({"items": {"0": {"sku": "a", "qty": 1}}}, ".items"),
    ],
)
def test_models_do_not_coerce(payload: dict[str, Any], path: str) -> None:
    with pytest.raises(ArgumentValidationError) as caught:
        args_validator_from(Order).validate_args(payload)
    assert caught.value.path == path


def test_models_reject_unknown_fields_at_every_level() -> None:
    args = args_validator_from(Order)
    with pytest.raises(ArgumentValidationError) as caught:
        args.validate_args({"items": [], "extra": 1})
    assert caught.value.detail == "Object contains extra field `extra` that is not in the validator"
    assert caught.value.path == ""
    with pytest.raises(ArgumentValidationError) as caught:
        args.validate_args({"items": [{"sku": "a", "qty": 1, "x": 0}]})
    assert caught.value.path == ".items[0]"


def test_models_reject_extras_even_if_their_config_allows_them() -> None:
    with pytest.raises(ArgumentValidationError, match="extra field `x`"):
        args_validator_from(Lenient).validate_args({"n": 1, "x": 2})


def test_model_missing_fields_and_error_counts() -> None:
    with pytest.raises(ArgumentValidationError) as caught:
        args_validator_from(Item).validate_args({"qty": "x"})
    assert caught.value.detail == "Object is missing the required field `sku` (and 1 more error)"


def test_unset_arguments_count_as_absent_for_models() -> None:
    assert args_validator_from(Order).validate_args({"items": [], "note": UNSET}).note is None


def test_model_json_maps_to_a_v_object() -> None:
    validator = args_validator_from(Order).validator
    assert validator == v.object(
        {
            "items": v.array(v.object({"sku": v.string(), "qty": v.number()})),
            "note": v.optional(v.union(v.string(), v.null())),
            "ratio": v.optional(v.number()),
        }
    )


def test_unmappable_models_are_v_any() -> None:
    class Tree(BaseModel):
        children: list["Tree"]

    assert args_validator_from(Tree).to_json() == {"type": "any"}


def test_returns_validation() -> None:
    returns = returns_validator_from(v.string())
    returns.validate_returns("ok")
    with pytest.raises(ReturnsValidationError) as caught:
        returns.validate_returns(42)
    assert caught.value.detail == "Value 42 does not match validator v.string()"


def test_returns_null_accepts_a_handler_that_returned_nothing() -> None:
    returns_validator_from(v.null()).validate_returns(None)
    returns_validator_from(v.optional(v.string())).validate_returns(None)


def test_no_returns_validator_checks_nothing() -> None:
    returns = returns_validator_from(None)
    returns.validate_returns(object())
    assert returns.to_json() is None


def test_returns_accepts_a_dict_of_validators() -> None:
    returns = returns_validator_from({"id": v.string()})
    returns.validate_returns({"id": "x"})
    with pytest.raises(ReturnsValidationError) as caught:
        returns.validate_returns({"id": 1})
    assert caught.value.path == ".id"
    with pytest.raises(SchemaError):
        returns_validator_from("v.string()")


def test_integral_floats_from_clients_fit_int_fields() -> None:
    # Every client number is a float64: JSON `2` decodes to 2.0.
    order = args_validator_from(Order).validate_args(
        {"items": [{"sku": "a", "qty": 2.0}], "ratio": -0.0}
    )
    assert order.items[0].qty == 2
    assert type(order.items[0].qty) is int
    assert str(order.ratio) == "-0.0"
    with pytest.raises(ArgumentValidationError):
        args_validator_from(Order).validate_args({"items": [{"sku": "a", "qty": 2.5}]})
