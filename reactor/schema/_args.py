"""Argument and return-value validation as the function registry applies it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from reactor.errors import ArgumentValidationError, ReturnsValidationError
from reactor.schema._base import ValidationContext, Validator, run_validator, show
from reactor.schema._scalars import AnyValidator


def require_args_object(args: object) -> dict[str, Any]:
    # FN-05: every function gets exactly one args object.
    if not isinstance(args, dict):
        raise ArgumentValidationError(f"Function arguments must be an object, got {show(args)}")
    return args


class ArgsValidator(ABC):
    """A function's ``args=`` as the registry applies it (see ``args_validator_from``)."""

    __slots__ = ()

    @property
    @abstractmethod
    def validator(self) -> Validator:
        """The ``v.*`` form: ``v.object``/``v.any``, or a rough mapping of a pydantic model."""

    @abstractmethod
    def validate_args(self, args: dict[str, Any], ctx: ValidationContext | None = None) -> Any:
        """What the handler receives; raises ``ArgumentValidationError`` before it runs."""

    def to_json(self) -> dict[str, Any]:
        """Convex's validator JSON for this args validator (function-spec output)."""
        return self.validator.to_json()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.validator!r})"


class ValidatorArgs(ArgsValidator):
    """Args checked by a ``v.object`` (strict) or ``v.any`` (nothing checked)."""

    __slots__ = ("_validator",)

    def __init__(self, validator: Validator) -> None:
        self._validator = validator

    @property
    def validator(self) -> Validator:
        return self._validator

    def validate_args(self, args: dict[str, Any], ctx: ValidationContext | None = None) -> Any:
        require_args_object(args)
        if not isinstance(self._validator, AnyValidator):
            run_validator(self._validator, args, ctx, "", ArgumentValidationError)
        return args


class ReturnsValidator:
    """A function's ``returns=``; with no validator every result passes.

    A handler that returns nothing returns ``None``, so ``v.null()`` accepts it
    (VAL-08); so does a top-level ``v.optional(...)``, since Python cannot
    tell "returned nothing" from "returned None".
    """

    __slots__ = ("validator",)

    def __init__(self, validator: Validator | None) -> None:
        self.validator = validator

    def validate_returns(self, value: object, ctx: ValidationContext | None = None) -> None:
        """Raise ``ReturnsValidationError`` if ``value`` does not match."""
        validator = self.validator
        if validator is None or (value is None and validator.is_optional):
            return
        run_validator(validator, value, ctx, "", ReturnsValidationError)

    def to_json(self) -> dict[str, Any] | None:
        return None if self.validator is None else self.validator.to_json()

    def __repr__(self) -> str:
        return f"ReturnsValidator({self.validator!r})"
