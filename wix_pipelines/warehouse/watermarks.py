"""Watermarks and the load log: written inside the caller's transaction, read anywhere."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import orjson

from .tables import table_spec


class _AdvanceToMaxCreated:
    """Sentinel type: see ADVANCE_TO_MAX_CREATED."""

    def __repr__(self) -> str:
        return "ADVANCE_TO_MAX_CREATED"


# Pass as `watermark=` to upsert_batch: the new value is the later of the committed watermark and the batch's
# max created_date (never moves back; an empty batch keeps the value but still commits the details).
ADVANCE_TO_MAX_CREATED = _AdvanceToMaxCreated()

WatermarkValue = str | datetime


@dataclass(frozen=True)
class Watermark:
    stream: str
    value: str | None
    updated_at: datetime | None
    details: dict[str, Any] = field(default_factory=dict)


def advance(before: str | None, batch_max: datetime | None) -> str | None:
    """The later of a stored watermark and a batch's max created_date, as stored text."""
    if batch_max is None:
        return before
    if before is not None:
        previous = datetime.fromisoformat(before.replace("Z", "+00:00"))
        if previous.tzinfo is None or previous >= batch_max:
            return before if previous.tzinfo is not None else watermark_text(batch_max)
    return watermark_text(batch_max)


def watermark_text(value: WatermarkValue | None) -> str | None:
    """Stored form of a watermark: datetimes as ISO-8601 (a TIMESTAMPTZ cast reads it back)."""
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


def get_watermark(con: duckdb.DuckDBPyConnection, stream: str) -> Watermark | None:
    """The committed watermark of a stream, or None before its first committed batch."""
    rows = con.execute("SELECT value, updated_at, details FROM main._watermarks WHERE stream = ?", [stream]).fetchall()
    if not rows:
        return None
    value, updated_at, details = rows[0]
    return Watermark(stream, value, updated_at, orjson.loads(details) if details else {})


def set_watermark(
    con: duckdb.DuckDBPyConnection,
    stream: str,
    value: WatermarkValue | None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Upsert a stream's watermark. Call it inside the transaction that writes the rows it covers."""
    con.execute(
        "INSERT INTO main._watermarks VALUES (?, ?, now(), ?) "
        "ON CONFLICT (stream) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, "
        "details = excluded.details",
        [stream, watermark_text(value), orjson.dumps(dict(details or {})).decode()],
    )


def write_load_log(
    con: duckdb.DuckDBPyConnection,
    *,
    stream: str,
    operation: str,
    run_id: str | None,
    counts: Mapping[str, int],
    watermark_before: str | None = None,
    watermark_after: str | None = None,
) -> int:
    """Append one `_load_log` row; returns its load_id. Ids are max+1: writers are serialised by the lock."""
    row = con.execute(
        """INSERT INTO main._load_log
           SELECT coalesce((SELECT max(load_id) FROM main._load_log), 0) + 1, ?, ?, ?,
                  ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now()
           RETURNING load_id""",
        [
            stream,
            operation,
            run_id,
            counts.get("pages", 0),
            counts.get("fetched", 0),
            counts.get("inserted", 0),
            counts.get("updated", 0),
            counts.get("unchanged", 0),
            counts.get("duplicates", 0),
            counts.get("rejected", 0),
            counts.get("deleted", 0),
            watermark_before,
            watermark_after,
        ],
    ).fetchall()
    return int(row[0][0])


def max_created_date(con: duckdb.DuckDBPyConnection, table: str, *, include_deleted: bool = True) -> datetime | None:
    """Latest created_date in a table (deleted rows included by default: they were fetched too)."""
    spec = table_spec(table)
    where = "" if include_deleted else " WHERE deleted_at IS NULL"
    return con.execute(f"SELECT max(created_date) FROM main.{spec.table}{where}").fetchall()[0][0]
