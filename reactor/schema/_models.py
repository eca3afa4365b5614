"""pydantic models as args validators: the seed app's ``zodQuery`` equivalent (VAL-11).

A model is applied with Convex's strictness: ``strict=True`` (no coercion:
``"1"`` is not an ``int``) and ``extra="forbid"`` at every level, whatever
the model's own config says. Integral floats reach the model as ints, since
clients send every number as a float64 (``2`` arrives as ``2.0``).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import pydantic
from pydantic import AfterValidator, BaseModel, ValidationInfo, WithJsonSchema
from pydantic_core import ErrorDetails, PydanticCustomError

from reactor.errors import ArgumentValidationError, SchemaError, ValidationError
from reactor.schema._args import ArgsValidator, require_args_object
from reactor.schema._base import ValidationContext, Validator, show
from reactor.schema._builder import v
from reactor.schema._compound import ObjectValidator
from reactor.schema._scalars import IdValidator
from reactor.values._int64 import UNSET

_CONTEXT_KEY = "reactor.validation_context"
_JSON_TABLE_KEY = "convexTableName"


def _context_of(info: ValidationInfo) -> ValidationContext | None:
    context = info.context
    if isinstance(context, dict):
        found = context.get(_CONTEXT_KEY)
        if found is not None and hasattr(found, "table_name_for_id"):
            return found  # type: ignore[no-any-return]
    return None


def zid(table_name: str) -> Any:
    """An id of ``table_name`` as a pydantic field type: ``user: zid("users")``.

    When reactor validates function args it passes its id resolver to the
    model, and the id's table is checked like ``v.id``. A model validated
    elsewhere (``Model.model_validate(...)`` by hand) has no resolver, so there
    only a non-empty string is required.

    The result is an ``Annotated[str, ...]`` built at run time; static type
    checkers see it as ``Any``.
    """
    table = IdValidator(table_name).table_name

    def check(value: str, info: ValidationInfo) -> str:
        if not value:
            raise PydanticCustomError(
                "convex_id",
                'Expected an id of table "{table}", got an empty string',
                {"table": table},
            )
        ctx = _context_of(info)
        found = None if ctx is None else ctx.table_name_for_id(value)
        if ctx is not None and found != table:
            if found is None:
                raise PydanticCustomError(
                    "convex_id", 'Not a valid id of table "{table}"', {"table": table}
                )
            raise PydanticCustomError(
                "convex_id",
                'An id of table "{found}", expected an id of table "{table}"',
                {"found": found, "table": table},
            )
        return value

    return Annotated[
        str, AfterValidator(check), WithJsonSchema({"type": "string", _JSON_TABLE_KEY: table})
    ]


def _path(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def _describe(error: ErrorDetails) -> tuple[str, str]:
    loc = tuple(error["loc"])
    if error["type"] == "missing" and loc:
        return f"Object is missing the required field `{loc[-1]}`", _path(loc[:-1])
    if error["type"] == "extra_forbidden" and loc:
        field = loc[-1]
        return f"Object contains extra field `{field}` that is not in the validator", _path(
            loc[:-1]
        )
    return f"Value {show(error['input'])} does not match: {error['msg']}", _path(loc)


def convert_pydantic_error(
    exc: pydantic.ValidationError, error: type[ValidationError]
) -> ValidationError:
    """The first of pydantic's errors in reactor's form (``.a.b[0]`` paths)."""
    errors = exc.errors(include_url=False)
    if not errors:
        return error(str(exc))
    message, path = _describe(errors[0])
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    return error(message, path)


class ModelArgs(ArgsValidator):
    """Args validated by a pydantic model; the handler receives the model instance."""

    __slots__ = ("_validator", "model")

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model
        self._validator: Validator | None = None

    @property
    def validator(self) -> Validator:
        # Only tooling asks for it, so the JSON-schema walk happens on demand.
        if self._validator is None:
            self._validator = validator_from_model(self.model)
        return self._validator

    def validate_args(self, args: dict[str, Any], ctx: ValidationContext | None = None) -> Any:
        require_args_object(args)
        plain = {key: _ints_for_integral_floats(x) for key, x in args.items() if x is not UNSET}
        try:
            return self.model.model_validate(
                plain, strict=True, extra="forbid", context={_CONTEXT_KEY: ctx}
            )
        except pydantic.ValidationError as exc:
            raise convert_pydantic_error(exc, ArgumentValidationError) from None

    def __repr__(self) -> str:
        return f"ModelArgs({self.model.__qualname__})"


def _ints_for_integral_floats(value: Any) -> Any:
    # Clients send every number as a float64, so JSON `2` arrives as 2.0, and a
    # strict `int` field would refuse it. A plain int is a float64 too in
    # reactor's mapping, so this changes the spelling, not the Convex type;
    # "2" and 2.5 are still refused. -0.0 keeps its sign.
    if type(value) is float:
        negative_zero = value == 0.0 and math.copysign(1.0, value) < 0
        if value.is_integer() and abs(value) <= 2**53 and not negative_zero:
            return int(value)
        return value
    if isinstance(value, dict):
        return {key: _ints_for_integral_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_ints_for_integral_floats(item) for item in value]
    return value


class _Unsupported(Exception):
    pass


def validator_from_model(model: type[BaseModel]) -> Validator:
    """A rough ``v.object`` for ``model`` via its JSON schema; ``v.any()`` if it has none."""
    try:
        schema = model.model_json_schema(mode="validation")
        result = _from_json_schema(schema, schema.get("$defs", {}), frozenset())
    except (_Unsupported, SchemaError, pydantic.PydanticUserError):
        return v.any()
    if not isinstance(result, ObjectValidator):
        return v.any()
    return result


def _from_json_schema(node: Any, defs: dict[str, Any], seen: frozenset[str]) -> Validator:
    if not isinstance(node, dict):
        raise _Unsupported
    if "$ref" in node:
        name = str(node["$ref"]).rsplit("/", 1)[-1]
        if name in seen or name not in defs:
            raise _Unsupported  # recursive models have no finite v.* form
        return _from_json_schema(defs[name], defs, seen | {name})
    if _JSON_TABLE_KEY in node:
        return v.id(node[_JSON_TABLE_KEY])
    if "const" in node:
        return v.null() if node["const"] is None else v.literal(node["const"])
    if "enum" in node:
        return v.union(*(v.null() if x is None else v.literal(x) for x in node["enum"]))
    for key in ("anyOf", "oneOf"):
        if key in node:
            return v.union(*(_from_json_schema(m, defs, seen) for m in node[key]))
    kind = node.get("type")
    if kind == "string":
        return v.bytes() if node.get("format") == "binary" else v.string()
    if kind in ("number", "integer"):
        return v.number()
    if kind == "boolean":
        return v.boolean()
    if kind == "null":
        return v.null()
    if kind == "array":
        items = node.get("items")
        return v.array(v.any() if items is None else _from_json_schema(items, defs, seen))
    if kind == "object":
        return _object_from_json_schema(node, defs, seen)
    if kind is None:
        return v.any()
    raise _Unsupported


def _object_from_json_schema(
    node: dict[str, Any], defs: dict[str, Any], seen: frozenset[str]
) -> Validator:
    properties = node.get("properties")
    if properties is None:
        extra = node.get("additionalProperties", True)
        values = v.any() if extra is True else _from_json_schema(extra, defs, seen)
        return v.record(v.string(), values)
    required = set(node.get("required", ()))
    fields: dict[str, Validator] = {}
    for name, sub in properties.items():
        field = _from_json_schema(sub, defs, seen)
        fields[name] = field if name in required else v.optional(field)
    return v.object(fields)
