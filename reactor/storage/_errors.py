"""Errors a store reports besides ``reactor.errors.StoreLockedError``."""

from __future__ import annotations

from reactor.errors import ReactorError

__all__ = ["StoreError", "StoreVersionError"]


class StoreError(ReactorError):
    """The store cannot do what was asked: it is closed, the file is not a reactor
    store, a snapshot was used after ``close()``, or a metadata change conflicts
    with what is already recorded (a table name or number already taken)."""


class StoreVersionError(StoreError):
    """The store was written by a newer reactor (its schema version is higher than
    this code knows), so opening it could corrupt it."""
