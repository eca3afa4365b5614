"""``define_schema``: the app's tables, and the document validators they imply."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from reactor.errors import SchemaError
from reactor.schema._base import ValidationContext, Validator, is_identifier, name_of, show
from reactor.schema._builder import v
from reactor.schema._compound import ObjectValidator, UnionValidator
from reactor.schema._scalars import IdValidator
from reactor.schema._table import TableDefinition

MAX_TABLES = 10_000


class Schema:
    """The tables an app declares. Tables not in the schema are schemaless.

    ``schema_validation=False`` keeps the indexes but stops checking
    documents. ``strict_tables`` is recorded for the engine: True means
    writes to tables the schema does not declare are refused (Convex's
    ``strictTableNameTypes`` only affects TypeScript types; the default,
    False, accepts them as Convex does at run time).
    """

    def __init__(
        self, tables: Mapping[str, TableDefinition], schema_validation: bool, strict_tables: bool
    ) -> None:
        self.tables: Mapping[str, TableDefinition] = MappingProxyType(dict(tables))
        self.schema_validation = schema_validation
        self.strict_tables = strict_tables

    def _table(self, table_name: str) -> TableDefinition:
        table = self.tables.get(table_name)
        if table is None:
            raise SchemaError(f'Table "{table_name}" is not in the schema')
        return table

    def doc(self, table_name: str) -> Validator:
        """The validator of a stored document: the table's plus ``_id`` and ``_creationTime``."""
        validator = self._table(table_name).validator
        system = {"_id": v.id(table_name), "_creationTime": v.number()}
        if isinstance(validator, ObjectValidator):
            return validator.extend(system)
        if isinstance(validator, UnionValidator):
            return UnionValidator(
                *(m.extend(system) for m in validator.members if isinstance(m, ObjectValidator))
            )
        return validator

    def id(self, table_name: str) -> IdValidator:
        """``v.id(table_name)``, limited to tables in this schema."""
        self._table(table_name)
        return v.id(table_name)

    def validate_document(
        self, table_name: str, doc: dict[str, Any], ctx: ValidationContext | None = None
    ) -> None:
        """Check a document written to ``table_name``, if the schema covers that table."""
        if self.schema_validation:
            table = self.tables.get(table_name)
            if table is not None:
                table.validate_document(doc, ctx)

    def to_json(self) -> dict[str, Any]:
        """Convex's schema JSON (``DatabaseSchemaJson``), for tooling."""
        return {
            "tables": [table.to_json(name) for name, table in self.tables.items()],
            "schemaValidation": self.schema_validation,
        }

    def __repr__(self) -> str:
        return f"define_schema({{{', '.join(repr(name) for name in self.tables)}}})"


def define_schema(
    tables: Mapping[str, TableDefinition],
    *,
    schema_validation: bool = True,
    strict_tables: bool = False,
) -> Schema:
    """The app's schema: ``define_schema({"messages": define_table({...}), ...})``."""
    if not isinstance(tables, Mapping):
        raise SchemaError(f"define_schema() takes a dict of tables, got {show(tables)}")
    if len(tables) > MAX_TABLES:
        raise SchemaError(f"A schema has at most {MAX_TABLES} tables, got {len(tables)}")
    for name, table in tables.items():
        if not is_identifier(name) or name.startswith("_"):
            raise SchemaError(
                f"Table name {name_of(name)} is not valid: it must be an identifier "
                "([A-Za-z_][A-Za-z0-9_]*) of at most 64 characters not starting with '_'"
            )
        if not isinstance(table, TableDefinition):
            raise SchemaError(f'Table "{name}" must be a define_table(...), got {show(table)}')
        table.check_rules(name)
    return Schema(tables, schema_validation, strict_tables)
