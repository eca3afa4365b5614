"""Turning a function's ``args=`` / ``returns=`` into validators (FN-04)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from reactor.errors import SchemaError
from reactor.schema._args import ArgsValidator, ReturnsValidator, ValidatorArgs
from reactor.schema._base import Validator, show
from reactor.schema._compound import ObjectValidator
from reactor.schema._models import ModelArgs
from reactor.schema._scalars import AnyValidator


def args_validator_from(spec: Any) -> ArgsValidator:
    """The args validator for ``args=spec``.

    ``None`` means ``v.any()`` (nothing is checked, but args are still one
    object); a dict of validators means a strict ``v.object``; a ``v.object``
    or ``v.any()`` stands as itself; a pydantic model class is applied
    strictly and its instance is what the handler receives. Anything else is
    refused at registration, as Convex refuses it at deploy.
    """
    if spec is None:
        return ValidatorArgs(AnyValidator())
    if isinstance(spec, ObjectValidator | AnyValidator):
        return ValidatorArgs(spec)
    if isinstance(spec, Mapping):
        return ValidatorArgs(ObjectValidator(spec))
    if isinstance(spec, type) and issubclass(spec, BaseModel):
        return ModelArgs(spec)
    raise SchemaError(
        f"args must be a dict of validators, v.object, v.any or a pydantic model, got {show(spec)}"
    )


def returns_validator_from(spec: Any) -> ReturnsValidator:
    """The return-value validator for ``returns=spec``; ``None`` checks nothing."""
    if spec is None or isinstance(spec, Validator):
        return ReturnsValidator(spec)
    if isinstance(spec, Mapping):
        return ReturnsValidator(ObjectValidator(spec))
    raise SchemaError(
        f"returns must be a validator (v.*) or a dict of validators, got {show(spec)}"
    )
