"""Per-transaction limits (SEMANTICS.md group 17) and the counters that enforce them."""

from __future__ import annotations

from dataclasses import dataclass

from reactor.errors import LimitExceededError

__all__ = ["TransactionLimits", "Usage"]

MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class TransactionLimits:
    documents_read: int = 32_000
    bytes_read: int = 16 * MIB
    index_ranges: int = 4_096
    documents_written: int = 16_000
    bytes_written: int = 16 * MIB
    functions_scheduled: int = 1_000
    scheduled_args_bytes: int = 16 * MIB
    nesting_depth: int = 8


@dataclass(slots=True)
class Usage:
    """What a transaction has used so far; nested calls share one ``Usage``."""

    limits: TransactionLimits
    documents_read: int = 0
    bytes_read: int = 0
    index_ranges: int = 0
    functions_scheduled: int = 0
    scheduled_args_bytes: int = 0

    def read(self, size: int) -> None:
        self.documents_read += 1
        self.bytes_read += size
        if self.documents_read > self.limits.documents_read:
            raise LimitExceededError(
                "TooManyDocumentsRead",
                f"this function read more than {self.limits.documents_read} documents "
                "(documents a filter rejected count too); narrow the query with an index",
            )
        if self.bytes_read > self.limits.bytes_read:
            raise LimitExceededError(
                "TooManyBytesRead",
                f"this function read more than {self.limits.bytes_read} bytes",
            )

    def range(self) -> None:
        self.index_ranges += 1
        if self.index_ranges > self.limits.index_ranges:
            raise LimitExceededError(
                "TooManyIndexRanges",
                f"this function made more than {self.limits.index_ranges} db.get / db.query calls",
            )

    def check_writes(self, documents: int, size: int) -> None:
        if documents > self.limits.documents_written:
            raise LimitExceededError(
                "TooManyDocumentsWritten",
                f"this mutation wrote more than {self.limits.documents_written} documents",
            )
        if size > self.limits.bytes_written:
            raise LimitExceededError(
                "TooManyBytesWritten",
                f"this mutation wrote more than {self.limits.bytes_written} bytes",
            )

    def schedule(self, args_size: int) -> None:
        self.functions_scheduled += 1
        self.scheduled_args_bytes += args_size
        if self.functions_scheduled > self.limits.functions_scheduled:
            raise LimitExceededError(
                "TooManyFunctionsScheduled",
                f"this mutation scheduled more than {self.limits.functions_scheduled} functions",
            )
        if self.scheduled_args_bytes > self.limits.scheduled_args_bytes:
            raise LimitExceededError(
                "ScheduledFunctionsArgumentsTooLarge",
                f"this mutation scheduled more than {self.limits.scheduled_args_bytes} "
                "bytes of arguments",
            )
