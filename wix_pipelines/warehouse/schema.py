"""Warehouse DDL, schema versioning and forward migrations.

`BASE_DDL` is the schema at version 1 and must never change once released: a file created by any version
reaches the current schema by replaying `MIGRATIONS` in order, the same path an old file takes. To change the
schema, append a `Migration` (version N+1) and bump nothing else. A column added to a table spec later is listed
in `ADDED_COLUMNS` so that the version-1 DDL keeps leaving it out: new and old files then get it from the same
`ALTER TABLE`, and have the same columns in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from .errors import SchemaVersionError
from .tables import TABLES, TableSpec
from .transaction import transaction

# zstd on the raw record: JSON text compresses ~8x with it, and checkpointing it is ~2.5x faster than with
# DuckDB's default string compression analysis (measured on 100k generated contacts). The primary key is the
# version-1 schema's; migration 4 takes it away again.
_COLUMN_SUFFIX = {"id": " PRIMARY KEY", "record": " USING COMPRESSION zstd"}


# {(table, column): the migration version that adds it}. Such columns come after the bookkeeping columns in the
# table (ALTER TABLE appends), whatever their place in the spec; queries name their columns, so that is harmless.
ADDED_COLUMNS: dict[tuple[str, str], int] = {
    ("contacts", "email_subscription_status_extended"): 2,
    ("reviews", "media"): 3,
    **{(table, "_id_hash"): 4 for table in ("contacts", "reviews", "ratings", "review_requests")},
}


def table_ddl(spec: TableSpec, version: int = 1) -> str:
    """CREATE TABLE of `spec` as it was at schema `version` (columns added by later migrations left out)."""
    columns = [c for c in spec.all_columns if ADDED_COLUMNS.get((spec.table, c.name), 1) <= version]
    cols = ",\n  ".join(f"{c.name} {c.sql_type}{_COLUMN_SUFFIX.get(c.name, '')}" for c in columns)
    return f"CREATE TABLE IF NOT EXISTS main.{spec.table} (\n  {cols}\n)"


BOOKKEEPING_DDL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS main._schema_version (
  version INTEGER PRIMARY KEY,
  description VARCHAR,
  applied_at TIMESTAMPTZ
)""",
    # value is text: a createdDate watermark is an ISO timestamp, a cursor-paged stream may keep a token.
    """CREATE TABLE IF NOT EXISTS main._watermarks (
  stream VARCHAR PRIMARY KEY,
  value VARCHAR,
  updated_at TIMESTAMPTZ,
  details JSON
)""",
    """CREATE TABLE IF NOT EXISTS main._load_log (
  load_id BIGINT PRIMARY KEY,
  stream VARCHAR NOT NULL,
  operation VARCHAR NOT NULL,
  run_id VARCHAR,
  pages INTEGER,
  fetched BIGINT,
  inserted BIGINT,
  updated BIGINT,
  unchanged BIGINT,
  duplicates BIGINT,
  rejected BIGINT,
  deleted BIGINT,
  watermark_before VARCHAR,
  watermark_after VARCHAR,
  logged_at TIMESTAMPTZ NOT NULL
)""",
    # Quarantine: malformed records land here instead of vanishing or failing the whole batch.
    """CREATE TABLE IF NOT EXISTS main._rejected_records (
  stream VARCHAR NOT NULL,
  run_id VARCHAR,
  page_index INTEGER,
  position INTEGER,
  record_id VARCHAR,
  reason VARCHAR NOT NULL,
  record VARCHAR,
  rejected_at TIMESTAMPTZ NOT NULL
)""",
)

BASE_DDL: tuple[str, ...] = tuple(table_ddl(spec) for spec in TABLES.values()) + BOOKKEEPING_DDL


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]


def _create_base(con: duckdb.DuckDBPyConnection) -> None:
    for ddl in BASE_DDL:
        con.execute(ddl)


def _add_email_subscription_status_extended(con: duckdb.DuckDBPyConnection) -> None:
    # Spelled out rather than read from the spec: a migration must do the same thing forever. Backfilled from
    # the stored record with the reading the loaders use for a STRING column (a JSON scalar as text; JSON null
    # or absent is NULL), so rows loaded before and after the migration agree and an unchanged re-load, which
    # keeps its row, needs no rewrite. One parse per contact, once (~1 s per 200k contacts).
    con.execute("ALTER TABLE main.contacts ADD COLUMN IF NOT EXISTS email_subscription_status_extended VARCHAR")
    con.execute(
        "UPDATE main.contacts SET email_subscription_status_extended = "
        """json_extract_string(record, '$.info.extendedFields.items."emailSubscriptions.subscriptionStatus"')"""
    )


def _add_review_media(con: duckdb.DuckDBPyConnection) -> None:
    # As the loaders read a JSON_ARRAY column: the array's JSON text, NULL when absent or not an array.
    con.execute("ALTER TABLE main.reviews ADD COLUMN IF NOT EXISTS media JSON")
    con.execute(
        "UPDATE main.reviews SET media = json_extract(record, '$.content.media') "
        "WHERE media_count > 0 AND json_type(record, '$.content.media') = 'ARRAY'"
    )


def _rebuild_without_id_primary_keys(con: duckdb.DuckDBPyConnection) -> None:
    # DuckDB cannot drop a constraint, so each table is rebuilt with the columns it has now, in the same order, and
    # `_id_hash` after them. Why: the key's index (ART) held ~90 bytes a row that DuckDB cannot evict (91 MB at 1M
    # contacts), made inserts ~3.6 us a row slower, and every checkpoint rewrote it whole (~20 ms at 200k rows).
    # The loaders look each batch's ids up by `_id_hash` instead, and the `unique_ids` check stays.
    for table in ("contacts", "reviews", "ratings", "review_requests"):
        # (`_id_hash` is left out should it be there already, e.g. in a file whose version rows were edited back.)
        columns = con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name = ? AND column_name <> '_id_hash' ORDER BY column_index",
            [table],
        ).fetchall()
        suffix = {"id": " NOT NULL", "record": " USING COMPRESSION zstd"}
        ddl = ",\n  ".join(f"{name} {sql_type}{suffix.get(name, '')}" for name, sql_type in columns)
        names = ", ".join(name for name, _ in columns)
        con.execute(f"CREATE TABLE main._{table}_rebuilt (\n  {ddl},\n  _id_hash UBIGINT\n)")
        con.execute(f"INSERT INTO main._{table}_rebuilt SELECT {names}, hash(id) FROM main.{table}")
        con.execute(f"DROP TABLE main.{table}")
        con.execute(f"ALTER TABLE main._{table}_rebuilt RENAME TO {table}")


# Append-only. Each migration runs in its own transaction together with its _schema_version row.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _create_base),
    Migration(
        2,
        "contacts.email_subscription_status_extended (typed extended-field email subscription status)",
        _add_email_subscription_status_extended,
    ),
    Migration(3, "reviews.media (content.media as JSON, for review_media)", _add_review_media),
    Migration(
        4,
        "the record tables without the id primary key, with _id_hash (the loaders keep ids unique)",
        _rebuild_without_id_primary_keys,
    ),
)
SCHEMA_VERSION: int = MIGRATIONS[-1].version


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The version a file is at; 0 for an empty file."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = '_schema_version'"
    ).fetchall()[0][0]
    if not exists:
        return 0
    return int(con.execute("SELECT coalesce(max(version), 0) FROM main._schema_version").fetchall()[0][0])


def ensure_schema(con: duckdb.DuckDBPyConnection, migrations: tuple[Migration, ...] = MIGRATIONS) -> tuple[int, int]:
    """Bring the file to the newest schema; idempotent. Returns (version before, version after)."""
    before = current_version(con)
    latest = migrations[-1].version
    if before > latest:
        raise SchemaVersionError(
            f"the warehouse file is at schema version {before} but this code only knows up to {latest}: "
            "upgrade wix-pipelines before writing to it"
        )
    for migration in migrations:
        if migration.version <= before:
            continue
        with transaction(con):
            migration.apply(con)
            # _schema_version itself is created by migration 1, so the row goes in after apply().
            con.execute(
                "INSERT INTO main._schema_version VALUES (?, ?, now())",
                [migration.version, migration.description],
            )
    return before, max(before, latest)
