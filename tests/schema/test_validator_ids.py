"""v.id(table) checks the table an id names, through a ValidationContext (VAL-04, T18)."""

import pytest
from pydantic import BaseModel

from reactor.errors import ArgumentValidationError, SchemaError, ValidationError
from reactor.schema import ValidationContext, args_validator_from, v, zid


class FakeIds:
    """Ids here look like ``users|7``: a real implementation of the tiny protocol.

    It knows tables, not documents: like Convex, a deleted document's id still
    names its table.
    """

    def __init__(self, *tables: str) -> None:
        self.tables = set(tables)

    def table_name_for_id(self, id: str) -> str | None:
        table, sep, _ = id.partition("|")
        return table if sep and table in self.tables else None


CTX: ValidationContext = FakeIds("users", "messages", "_storage")


def test_t18_id_arguments() -> None:
    args = args_validator_from({"user": v.id("users")})
    message_id, deleted_user_id = "messages|1", "users|99"
    with pytest.raises(ArgumentValidationError) as caught:
        args.validate_args({"user": message_id}, CTX)
    assert caught.value.path == ".user"
    assert 'an id of table "messages", expected an id of table "users"' in caught.value.detail
    with pytest.raises(ArgumentValidationError, match="not a valid id"):
        args.validate_args({"user": "not-an-id"}, CTX)
    assert args.validate_args({"user": deleted_user_id}, CTX) == {"user": deleted_user_id}


def test_system_table_ids_do_not_match_user_tables() -> None:
    with pytest.raises(ValidationError, match='table "_storage"'):
        v.id("users").validate("_storage|1", CTX)
    v.id("_storage").validate("_storage|1", CTX)


def test_without_a_context_only_the_shape_is_checked() -> None:
    v.id("users").validate("anything")
    for bad in ("", 3, None):
        with pytest.raises(ValidationError):
            v.id("users").validate(bad)


def test_ids_pass_as_strings() -> None:
    v.string().validate("users|1", CTX)


def test_ids_inside_containers_use_the_context() -> None:
    validator = v.object({"members": v.array(v.id("users"))})
    validator.validate({"members": ["users|1", "users|2"]}, CTX)
    with pytest.raises(ValidationError) as caught:
        validator.validate({"members": ["users|1", "messages|2"]}, CTX)
    assert caught.value.path == ".members[1]"


def test_table_name_must_be_an_identifier() -> None:
    with pytest.raises(SchemaError):
        v.id("no spaces")


class Invite(BaseModel):
    user: zid("users")  # type: ignore[valid-type]


def test_zid_checks_tables_when_reactor_validates_args() -> None:
    args = args_validator_from(Invite)
    assert args.validate_args({"user": "users|1"}, CTX) == Invite(user="users|1")
    with pytest.raises(ArgumentValidationError) as caught:
        args.validate_args({"user": "messages|1"}, CTX)
    assert caught.value.path == ".user"
    assert 'expected an id of table "users"' in caught.value.detail
    with pytest.raises(ArgumentValidationError, match="Not a valid id"):
        args.validate_args({"user": "junk"}, CTX)


def test_zid_without_a_context_requires_a_non_empty_string() -> None:
    assert Invite.model_validate({"user": "whatever"}).user == "whatever"
    args = args_validator_from(Invite)
    args.validate_args({"user": "whatever"})
    with pytest.raises(ArgumentValidationError, match="empty string"):
        args.validate_args({"user": ""})
    with pytest.raises(ArgumentValidationError):
        args.validate_args({"user": 5})
