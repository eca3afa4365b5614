"""What running a function produced: a value or an error, with its logs and timestamps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reactor.engine._intervals import ReadSet

__all__ = ["FunctionResult"]


@dataclass
class FunctionResult:
    path: str
    kind: str
    value: Any = None
    error: BaseException | None = None
    log_lines: list[str] = field(default_factory=list)
    ts: int | None = None
    """A query's snapshot timestamp; a mutation's commit timestamp."""
    read_set: ReadSet | None = None
    journal: str | None = None
    identity_read: bool = False
    attempts: int = 1
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> Any:
        """The value, or raise the function's error."""
        if self.error is not None:
            raise self.error
        return self.value
