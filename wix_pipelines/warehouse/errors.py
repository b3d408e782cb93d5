"""Errors raised by the warehouse library. Each says what happened, to what, and what to do."""

from __future__ import annotations

from dataclasses import dataclass


class WarehouseError(Exception):
    """Base class of every warehouse error."""


class WarehouseLockedError(WarehouseError):
    """Another process held the DuckDB file's write lock for longer than the retry timeout."""


class SchemaVersionError(WarehouseError):
    """The file was written by a newer version of this library."""


class MalformedPageError(WarehouseError):
    """A response body is not JSON, or its record list is not an array: nothing of the batch was written."""


@dataclass(frozen=True)
class RejectedRecord:
    page_index: int  # 0-based index of the page in the batch (the `records=` list counts as the last page)
    position: int  # 1-based position of the record inside its page
    record_id: str | None
    reason: str


class MalformedRecordsError(WarehouseError):
    """Raised in strict mode when records fail validation; the whole batch was rolled back."""

    def __init__(self, stream: str, rejected: list[RejectedRecord], total: int) -> None:
        self.stream = stream
        self.rejected = rejected
        self.total = total
        shown = "; ".join(
            f"page {r.page_index} position {r.position} id {r.record_id!r}: {r.reason}" for r in rejected[:10]
        )
        more = f" (and {total - len(rejected[:10])} more)" if total > 10 else ""
        super().__init__(
            f"{total} malformed {stream} record(s), batch rolled back: {shown}{more}. "
            "Fix the source records or load with strict=False to quarantine them in _rejected_records."
        )


class ReconciliationAbortedError(WarehouseError):
    """An id reconciliation would have marked more rows deleted than the caller allowed."""
