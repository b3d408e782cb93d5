"""Set-based upserts of API pages into the warehouse tables.

A batch is one or more raw response bodies (and/or a list of record dicts). Everything after receiving the
bytes happens in DuckDB, in one transaction, with no per-record Python:

1. land: each body is bound as one VARCHAR parameter; `json_extract(body, '$.<key>[*]')` + `unnest` turns it
   into one staged row per record (page index, position, minified record JSON);
2. shape: one `json_extract(record, [paths...])` per record (a single parse) feeds every typed column, and the
   same expressions collect the reasons a record is malformed;
3. quarantine malformed records in `_rejected_records` (or, with `strict=True`, raise and roll back);
4. classify valid records against the table by `_record_hash` (md5 of the minified record): insert / update
   (changed, or coming back after `deleted_at` was set) / unchanged, keeping the last copy of an id that
   appears twice in a batch (look-back windows and page-boundary ties do that);
5. `INSERT ... ON CONFLICT (id) DO UPDATE` only the inserted and updated rows, so an unchanged record keeps
   its `_loaded_at` and a repeated run changes no row;
6. move the watermark and append `_load_log` in the same transaction.

Malformed records are quarantined by default rather than failing the batch: one bad record from the API
must not stop a whole site's pipeline, and the watermark may move past it because the record is kept,
counted (`rejected`) and visible in `_rejected_records` for an operator to act on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import duckdb
import orjson

from .errors import MalformedPageError, MalformedRecordsError, RejectedRecord
from .tables import Column, Kind, TableSpec, table_spec
from .transaction import transaction
from .watermarks import WatermarkValue, get_watermark, set_watermark, watermark_text, write_load_log

Page = bytes | bytearray | memoryview | str

_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}
_SCALAR_OR_NULL = "('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN', 'NULL')"


@dataclass(frozen=True)
class UpsertResult:
    """What one committed batch did. fetched = inserted + updated + unchanged + duplicates + rejected."""

    stream: str
    pages: int
    fetched: int
    inserted: int
    updated: int
    unchanged: int
    duplicates: int  # extra copies of an id inside the batch (the last copy wins)
    rejected: int  # quarantined in _rejected_records
    revived: int  # part of `updated`: rows whose deleted_at was cleared because the record came back
    max_created_date: datetime | None  # of the valid records in this batch
    watermark_before: str | None
    watermark_after: str | None
    load_id: int

    def as_metadata(self) -> dict[str, Any]:
        """Plain values for Dagster `MaterializeResult` metadata."""
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items()}


# --- SQL generation ---------------------------------------------------------------------------------------


def _q(text: str) -> str:
    """SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _paths(spec: TableSpec) -> list[str]:
    seen: dict[str, None] = {}
    for col in spec.typed_columns:
        for p in col.paths:
            seen.setdefault(p, None)
    return list(seen)


def _shape_sql(spec: TableSpec) -> str:
    """SELECT over `_wh_stage` producing typed columns plus `reasons` (empty list = valid)."""
    paths = _paths(spec)
    idx = {p: i for i, p in enumerate(paths, start=1)}
    # Layer 1: one parse of each record. Layer 2: per path the raw JSON value j, its text s and JSON type t.
    layer2 = ",\n    ".join(
        f"j[{i}] AS j{i}, j[{i}] ->> '$' AS s{i}, json_type(j[{i}]) AS t{i}" for i in range(1, len(paths) + 1)
    )
    values: list[str] = []
    reasons: list[str] = ["CASE WHEN left(rec, 1) <> '{' THEN 'record is not a JSON object' END"]
    derived: list[str] = []
    for col in spec.typed_columns:
        if col.kind is Kind.DERIVED:
            derived.append(f"{col.expr} AS {col.name}")
            continue
        per_path: list[str] = []
        for p in col.paths:
            i = idx[p]
            value, reason = _path_expr(col, p, i)
            per_path.append(value)
            if reason:
                reasons.append(reason)
        values.append(f"{per_path[0] if len(per_path) == 1 else 'coalesce(' + ', '.join(per_path) + ')'} AS {col.name}")
    id_i = idx["$.id"]
    select_values = ",\n    ".join(values)
    select_reasons = ",\n      ".join(reasons)
    derived_sql = "".join(f", {d}" for d in derived)
    return f"""
WITH parsed AS (
  SELECT page_index, position, rec, json_extract(rec, [{", ".join(_q(p) for p in paths)}]) AS j
  FROM _wh_stage
), fields AS (
  SELECT page_index, position, rec,
    {layer2}
  FROM parsed
), typed AS (
  SELECT page_index, position, rec, s{id_i} AS record_id,
    {select_values},
    list_filter([
      {select_reasons}
    ], lambda r: r IS NOT NULL) AS reasons
  FROM fields
)
SELECT *{derived_sql} FROM typed"""


def _path_expr(col: Column, path: str, i: int) -> tuple[str, str | None]:
    """(typed value, reason-or-NULL) expressions of one JSON path of a column."""
    j, s, t = f"j{i}", f"s{i}", f"t{i}"
    label = _q(path.removeprefix("$."))
    shown = f"left(CAST({j} AS VARCHAR), 80)"
    if col.kind is Kind.ID:
        return s, (f"CASE WHEN {t} IS DISTINCT FROM 'VARCHAR' OR {s} = '' THEN format('id is missing or not a "
                   f"non-empty string (got {{}})', coalesce({shown}, 'nothing')) END")
    if col.kind is Kind.STRING:
        return s, f"CASE WHEN {t} NOT IN {_SCALAR_OR_NULL} THEN format('{{}}: expected a scalar, got {{}}', {label}, {shown}) END"
    if col.kind is Kind.CAST:
        cast = f"TRY_CAST({s} AS {col.sql_type})"
        bad = f"{s} IS NOT NULL AND ({cast} IS NULL OR {t} IN ('OBJECT', 'ARRAY')"
        if col.sql_type in _INTEGER_TYPES:
            # TRY_CAST('4.5' AS INTEGER) rounds to 5: a fractional value is a wrong type, not a 5.
            bad += f" OR TRY_CAST({s} AS DOUBLE) <> {cast}"
        bad += ")"
        return cast, f"CASE WHEN {bad} THEN format('{{}}: cannot read {{}} as {col.sql_type}', {label}, {shown}) END"
    not_array = f"CASE WHEN {t} NOT IN ('ARRAY', 'NULL') THEN format('{{}}: expected an array, got {{}}', {label}, {shown}) END"
    if col.kind is Kind.STRING_LIST:
        # Wix omits empty lists from responses: absent means empty, not unknown.
        return f"CASE WHEN {t} = 'ARRAY' THEN CAST({j} AS VARCHAR[]) ELSE []::VARCHAR[] END", not_array
    if col.kind is Kind.PLUCK:
        pluck = f"list_filter(json_extract_string({j}, {_q('$[*].' + (col.item_field or ''))}), lambda x: x IS NOT NULL)"
        return f"CASE WHEN {t} = 'ARRAY' THEN {pluck} ELSE []::VARCHAR[] END", not_array
    if col.kind is Kind.ARRAY_LENGTH:
        return f"CASE WHEN {t} = 'ARRAY' THEN CAST(json_array_length({j}) AS {col.sql_type}) ELSE 0 END", not_array
    raise ValueError(f"column {col.name}: kind {col.kind} has no JSON path expression")


def _apply_sql(spec: TableSpec) -> str:
    typed = [c.name for c in spec.typed_columns]
    managed = [c.name for c in spec.columns if c.kind is Kind.MANAGED]
    insert_cols = [*typed, "record", "deleted_at", "_loaded_at", "_record_hash"]
    select_cols = [*typed, "rec", "NULL", "now()", "_record_hash"]
    updates = [f"{c} = excluded.{c}" for c in typed if c != "id"]
    updates += ["record = excluded.record", "deleted_at = NULL", "_loaded_at = excluded._loaded_at"]
    updates += ["_record_hash = excluded._record_hash"]
    # A record that comes back from the API is alive: loader-managed facts about its death
    # (merged_into) no longer hold.
    updates += [f"{c} = NULL" for c in managed]
    return (
        f"INSERT INTO main.{spec.table} ({', '.join(insert_cols)})\n"
        f"SELECT {', '.join(select_cols)} FROM _wh_ready WHERE _action <> 'unchanged'\n"
        f"ON CONFLICT (id) DO UPDATE SET {', '.join(updates)}"
    )


_SQL_CACHE: dict[str, tuple[str, str]] = {}


def _sql_for(spec: TableSpec) -> tuple[str, str]:
    if spec.stream not in _SQL_CACHE:
        _SQL_CACHE[spec.stream] = (_shape_sql(spec), _apply_sql(spec))
    return _SQL_CACHE[spec.stream]


# --- landing ----------------------------------------------------------------------------------------------


def _as_text(page: Page) -> str:
    # Bound as VARCHAR: a bytes parameter would be a BLOB, which the JSON functions do not read as JSON.
    if isinstance(page, str):
        return page
    return bytes(page).decode("utf-8")


def _land(con: duckdb.DuckDBPyConnection, spec: TableSpec, bodies: Sequence[tuple[str, str]]) -> None:
    """Stage every record of every body: (page_index, 1-based position, minified record JSON)."""
    con.execute("CREATE OR REPLACE TEMP TABLE _wh_stage (page_index INTEGER, position INTEGER, rec JSON)")
    for page_index, (body, list_path) in enumerate(bodies):
        try:
            landed = con.execute(
                f"INSERT INTO _wh_stage SELECT ?, generate_subscripts(l, 1), unnest(l) "
                f"FROM (SELECT json_extract(CAST(? AS VARCHAR), {_q(list_path + '[*]')}) AS l)",
                [page_index, body],
            ).fetchall()[0][0]
        except duckdb.InvalidInputException as exc:
            raise MalformedPageError(
                f"{spec.stream} page {page_index} is not valid JSON ({exc}); nothing of this batch was written"
            ) from exc
        if landed == 0:
            # Only empty pages pay for this second parse: a record list that is not an array would
            # otherwise look like an empty page and its records would vanish.
            kind = con.execute("SELECT json_type(CAST(? AS VARCHAR), ?)", [body, list_path]).fetchall()[0][0]
            if kind not in (None, "NULL", "ARRAY"):
                raise MalformedPageError(
                    f"{spec.stream} page {page_index}: {list_path} is {kind}, expected an array of records; "
                    "nothing of this batch was written"
                )


# --- the batch --------------------------------------------------------------------------------------------


def upsert_batch(
    con: duckdb.DuckDBPyConnection,
    stream: str,
    pages: Page | Iterable[Page] = (),
    *,
    records: Sequence[Mapping[str, Any]] = (),
    watermark: WatermarkValue | None = None,
    watermark_details: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    strict: bool = False,
) -> UpsertResult:
    """Upsert one batch (any number of pages) into `stream`'s table and commit it with its watermark.

    pages: raw response bodies (`{"contacts": [...], "pagingMetadata": {...}}`) as bytes or str: the fast
        path. A body without the record key counts as an empty page (Wix omits empty lists).
    records: record dicts (e.g. from a Get call or a webhook); serialised once with orjson and landed as
        one more page after `pages`.
    watermark: new value for `_watermarks[stream]`, written in the same transaction; None leaves it as is.
    strict: raise MalformedRecordsError (rolling everything back) instead of quarantining bad records.

    The connection must not be inside a transaction; this function commits (or rolls back) its own.
    """
    spec = table_spec(stream)
    page_list = [pages] if isinstance(pages, bytes | bytearray | memoryview | str) else list(pages)
    bodies = [(_as_text(p), f"$.{spec.page_key}") for p in page_list]
    if records:
        bodies.append((orjson.dumps(list(records)).decode(), "$"))
    shape_sql, apply_sql = _sql_for(spec)

    with transaction(con):
        before = get_watermark(con, stream)
        before_value = before.value if before else None
        _land(con, spec, bodies)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _wh_typed AS {shape_sql}")
        rejected = _handle_rejects(con, spec, run_id=run_id, strict=strict)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _wh_ready AS
            SELECT v.*, md5(CAST(v.rec AS VARCHAR)) AS _record_hash,
                   CASE WHEN t.id IS NULL THEN 'insert'
                        WHEN t.deleted_at IS NOT NULL THEN 'revive'
                        WHEN t._record_hash IS DISTINCT FROM md5(CAST(v.rec AS VARCHAR)) THEN 'update'
                        ELSE 'unchanged' END AS _action
            FROM (SELECT * FROM _wh_typed WHERE len(reasons) = 0
                  QUALIFY row_number() OVER (PARTITION BY id ORDER BY page_index DESC, position DESC) = 1) v
            LEFT JOIN main.{spec.table} t ON t.id = v.id"""
        )
        fetched, valid = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE len(reasons) = 0) FROM _wh_typed"
        ).fetchall()[0]
        counts = dict.fromkeys(("insert", "update", "revive", "unchanged"), 0)
        for action, n in con.execute("SELECT _action, count(*) FROM _wh_ready GROUP BY ALL").fetchall():
            counts[action] = n
        batch_max = con.execute("SELECT max(created_date) FROM _wh_ready").fetchall()[0][0]
        if counts["insert"] or counts["update"] or counts["revive"]:
            con.execute(apply_sql).fetchall()
        after_value = before_value
        if watermark is not None:
            set_watermark(con, stream, watermark, watermark_details)
            after_value = watermark_text(watermark)
        result_counts = {
            "pages": len(bodies),
            "fetched": fetched,
            "inserted": counts["insert"],
            "updated": counts["update"] + counts["revive"],
            "unchanged": counts["unchanged"],
            "duplicates": valid - sum(counts.values()),
            "rejected": rejected,
        }
        load_id = write_load_log(
            con,
            stream=stream,
            operation="upsert",
            run_id=run_id,
            counts=result_counts,
            watermark_before=before_value,
            watermark_after=after_value,
        )
        for tmp in ("_wh_stage", "_wh_typed", "_wh_ready"):
            con.execute(f"DROP TABLE IF EXISTS {tmp}")
    return UpsertResult(
        stream=stream,
        revived=counts["revive"],
        max_created_date=batch_max,
        watermark_before=before_value,
        watermark_after=after_value,
        load_id=load_id,
        **result_counts,
    )


def _handle_rejects(con: duckdb.DuckDBPyConnection, spec: TableSpec, *, run_id: str | None, strict: bool) -> int:
    n = con.execute("SELECT count(*) FROM _wh_typed WHERE len(reasons) > 0").fetchall()[0][0]
    if not n:
        return 0
    if strict:
        rows = con.execute(
            "SELECT page_index, position, record_id, array_to_string(reasons, '; ') FROM _wh_typed "
            "WHERE len(reasons) > 0 ORDER BY page_index, position LIMIT 10"
        ).fetchall()
        raise MalformedRecordsError(spec.stream, [RejectedRecord(*r) for r in rows], n)
    con.execute(
        """INSERT INTO main._rejected_records
           SELECT ?, ?, page_index, position, record_id, array_to_string(reasons, '; '), rec, now()
           FROM _wh_typed WHERE len(reasons) > 0""",
        [spec.stream, run_id],
    ).fetchall()
    return int(n)
