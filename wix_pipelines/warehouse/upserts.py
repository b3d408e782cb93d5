"""Set-based upserts of API pages into the warehouse tables.

A batch is one or more raw response bodies (and/or a list of record dicts). Everything after receiving the
bytes happens in DuckDB, with no per-record Python. Staging (`stage_batch`, steps 1-2) reads nothing of the
warehouse, so a pull runs it on a DuckDB instance of its own one batch ahead (`StagingArea`); applying
(`apply_staged`, steps 3-6) is one transaction on the warehouse. `upsert_batch` does both in one transaction.

1. land: the bodies are scanned as Arrow (one record batch per body); `json_transform` splits each into its
   records, one staged row per record (page index, position, minified record JSON);
2. shape: one `json_extract(record, [paths...])` per record (a single parse) feeds every typed column, and the
   same expressions collect the reasons a record is malformed; of an id the batch holds twice (look-back
   windows, a keyset page's anchor), the last copy is kept;
3. quarantine malformed records in `_rejected_records` (or, with `strict=True`, raise and roll back);
4. look every valid record's id up among all stored rows (`_id_hash` first: `_stored_rows_like`), then compare
   `_record_hash` (DuckDB's 64-bit hash() of the minified record): insert / update (changed, or coming back after
   `deleted_at` was set) / unchanged. This is what keeps ids unique: the tables have no primary key (its index
   cost memory, inserts and checkpoints);
5. insert new ids, delete and re-insert changed ones (one transaction); nothing else is written, so an
   unchanged record keeps its `_loaded_at` and a repeated run changes no row;
6. move the watermark and append `_load_log` in the same transaction.

Malformed records are quarantined by default rather than failing the batch: one bad record from the API
must not stop a whole site's pipeline, and the watermark may move past it because the record is kept,
counted (`rejected`) and visible in `_rejected_records` for an operator to act on.
"""

from __future__ import annotations

import atexit
import shutil
import struct
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import closing, suppress
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from .errors import MalformedPageError, MalformedRecordsError, RejectedRecord
from .tables import ROW_GROUP_SIZE, Column, Kind, TableSpec, table_spec
from .transaction import transaction
from .watermarks import (
    ADVANCE_TO_MAX_CREATED,
    WatermarkValue,
    _AdvanceToMaxCreated,
    advance,
    get_watermark,
    set_watermark,
    watermark_text,
    write_load_log,
)

Page = bytes | bytearray | memoryview | str

_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}


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
    """Shape the batch's bodies (table `_wh_bodies`: page_index, body) into typed rows plus `reasons`.

    Each body is parsed once to split it into records (`json_transform` to a list of JSON: cheaper than
    `json_extract(body, '$.key[*]')`, which serialises through a path walk); each record once more, by one
    `json_extract(rec, [paths...])`, into the raw JSON text of every path the columns read (SQL NULL when
    absent). The first character of a raw value gives its JSON type, so no further parse is needed except to
    unescape strings with a backslash. `reasons` is the empty string for a valid record.
    """
    paths = _paths(spec)
    idx = {p: i for i, p in enumerate(paths, start=1)}
    # VARCHAR, not JSON: a CASE mixing JSON and VARCHAR branches would re-parse the unquoted strings as JSON.
    # JSON null reads as absent, as Wix omits what is unset.
    raw = ",\n    ".join(f"nullif(CAST(j[{i}] AS VARCHAR), 'null') AS v{i}" for i in idx.values())
    text = ",\n    ".join(
        f"v{i}, left(v{i}, 1) AS c{i}, CASE WHEN left(v{i}, 1) = '\"' THEN CASE WHEN contains(v{i}, '\\') "
        f"THEN json_extract_string(v{i}, '$') ELSE substr(v{i}, 2, length(v{i}) - 2) END ELSE v{i} END "
        f"AS s{i}"
        for i in idx.values()
    )
    values: list[str] = []
    reasons: list[str] = ["CASE WHEN coalesce(left(rec, 1), '') <> '{' THEN 'record is not a JSON object' END"]
    derived: list[str] = []
    for col in spec.typed_columns:
        if col.kind is Kind.DERIVED:
            derived.append(f"{col.expr} AS {col.name}")
            continue
        per_path: list[str] = []
        for p in col.paths:
            value, reason = _path_expr(col, p, idx[p])
            per_path.append(value)
            reasons.append(reason)
        values.append(f"{per_path[0] if len(per_path) == 1 else 'coalesce(' + ', '.join(per_path) + ')'} AS {col.name}")
    select_values = ",\n    ".join(values)
    select_reasons = ",\n      ".join(reasons)
    derived_sql = "".join(f", {d}" for d in derived)
    split = orjson.dumps({spec.page_key: ["JSON"]}).decode()
    return f"""
WITH pages AS (
  SELECT page_index, json_transform(body, {_q(split)}).{_ident(spec.page_key)} AS l FROM _wh_bodies
), landed AS (
  SELECT page_index, generate_subscripts(l, 1) AS position, unnest(l) AS rec FROM pages
), raw AS (
  SELECT page_index, position, rec,
    {raw}
  FROM (SELECT page_index, position, rec, json_extract(rec, [{", ".join(_q(p) for p in paths)}]) AS j FROM landed)
), fields AS (
  SELECT page_index, position, rec,
    {text}
  FROM raw
), typed AS (
  SELECT page_index, position, rec, s{idx["$.id"]} AS record_id,
    {select_values},
    -- concat_ws skips NULLs: '' means the record is valid.
    concat_ws('; ',
      {select_reasons}
    ) AS reasons
  FROM fields
)
SELECT *, hash(CAST(rec AS VARCHAR)) AS _record_hash{derived_sql} FROM typed"""


def _ident(key: str) -> str:
    return '"' + key.replace('"', '""') + '"'


# First character of a raw JSON value -> its type; NULL when the value is absent or JSON null.
_IS_OBJECT_OR_ARRAY = "IN ('{', '[')"


def _path_expr(col: Column, path: str, i: int) -> tuple[str, str]:
    """(typed value, reason-or-NULL) expressions of one JSON path of a column."""
    v, c, s = f"v{i}", f"c{i}", f"s{i}"
    label = _q(path.removeprefix("$."))
    shown = f"left({v}, 80)"
    if col.kind is Kind.ID:
        return s, (
            f"CASE WHEN {c} IS DISTINCT FROM '\"' OR {s} = '' THEN format('id is missing or not a "
            f"non-empty string (got {{}})', coalesce({shown}, 'nothing')) END"
        )
    if col.kind is Kind.STRING:
        return s, (
            f"CASE WHEN {c} {_IS_OBJECT_OR_ARRAY} "
            f"THEN format('{{}}: expected a scalar, got {{}}', {label}, {shown}) END"
        )
    if col.kind is Kind.CAST:
        cast = f"TRY_CAST({s} AS {col.sql_type})"
        bad = f"{v} IS NOT NULL AND ({cast} IS NULL OR {c} {_IS_OBJECT_OR_ARRAY}"
        if col.sql_type in _INTEGER_TYPES:
            # TRY_CAST('4.5' AS INTEGER) rounds to 5: a fractional value is a wrong type, not a 5.
            bad += f" OR TRY_CAST({s} AS DOUBLE) <> {cast}"
        bad += ")"
        return (
            cast,
            f"CASE WHEN {bad} THEN format('{{}}: cannot read {{}} as {col.sql_type}', {label}, {shown}) END",
        )
    not_array = f"CASE WHEN {c} <> '[' THEN format('{{}}: expected an array, got {{}}', {label}, {shown}) END"
    if col.kind is Kind.STRING_LIST:
        # Wix omits empty lists from responses: absent means empty, not unknown.
        return (
            f"CASE WHEN {c} = '[' THEN CAST(CAST({v} AS JSON) AS VARCHAR[]) ELSE []::VARCHAR[] END",
            not_array,
        )
    if col.kind is Kind.PLUCK:
        field_path = _q("$[*]." + (col.item_field or ""))
        pluck = f"list_filter(json_extract_string({v}, {field_path}), lambda x: x IS NOT NULL)"
        return f"CASE WHEN {c} = '[' THEN {pluck} ELSE []::VARCHAR[] END", not_array
    if col.kind is Kind.JSON_ARRAY:
        # NULL for an empty array too: "no media" has one spelling, which the migration that added it also uses.
        return f"CASE WHEN {c} = '[' AND {v} <> '[]' THEN CAST({v} AS JSON) END", not_array
    if col.kind is Kind.ARRAY_LENGTH:
        return (
            f"CASE WHEN {c} = '[' THEN CAST(json_array_length({v}) AS {col.sql_type}) ELSE 0 END",
            not_array,
        )
    raise ValueError(f"column {col.name}: kind {col.kind} has no JSON path expression")


def _insert_sql(spec: TableSpec) -> str:
    """INSERT ... SELECT of the valid rows of a staged table (`{source}`; the caller may add `AND <which ids>`)."""
    typed = [c.name for c in spec.typed_columns]
    insert_cols = [*typed, "record", "deleted_at", "_loaded_at", "_record_hash", "_id_hash"]
    select_cols = [*typed, "rec", "NULL", "now()", "_record_hash", "hash(id)"]
    return (
        f"INSERT INTO main.{spec.table} ({', '.join(insert_cols)})\n"
        f"SELECT {', '.join(select_cols)} FROM {{source}} WHERE reasons = ''"
    )


_SQL_CACHE: dict[str, tuple[str, str]] = {}


def _sql_for(spec: TableSpec) -> tuple[str, str]:
    if spec.stream not in _SQL_CACHE:
        _SQL_CACHE[spec.stream] = (_shape_sql(spec), _insert_sql(spec))
    return _SQL_CACHE[spec.stream]


# --- landing ----------------------------------------------------------------------------------------------


def page_text(page: Page) -> str:
    # Bound as VARCHAR: a bytes parameter would be a BLOB, which the JSON functions do not read as JSON.
    if isinstance(page, str):
        return page
    return bytes(page).decode("utf-8")


def page_bytes(page: Page) -> bytes:
    if isinstance(page, str):
        return page.encode("utf-8")
    return bytes(page)


def _is_json(body: bytes) -> bool:
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return True


def _bodies_table(bodies: list[bytes]) -> pa.Table:
    """The batch's bodies as an Arrow table, one record batch per body, which DuckDB scans in place: no statement
    lands them in a table first (0.5 CPU-s per 100k contacts). Built from buffers over the bytes as received: no
    copy, and not `pa.array(list)`, whose first call imports pandas (0.3 s and its memory, in every process)."""
    schema = pa.schema([("page_index", pa.int64()), ("body", pa.string())])
    batches = []
    for i, body in enumerate(bodies):
        index = pa.Array.from_buffers(pa.int64(), 1, [None, pa.py_buffer(struct.pack("<q", i))])
        text = pa.Array.from_buffers(
            pa.string(), 1, [None, pa.py_buffer(struct.pack("<ii", 0, len(body))), pa.py_buffer(body)]
        )
        batches.append(pa.record_batch([index, text], schema=schema))
    return pa.Table.from_batches(batches, schema=schema)


@cache
def _shape_statement(stream: str) -> duckdb.Statement:
    """`stream`'s shaping statement (it creates `_wh_typed`), parsed once per process: parsing its ~12 KB of SQL
    took 14 of the ~37 ms a batch spends before DuckDB reads a row. A parsed statement runs on any connection."""
    sql = f"CREATE OR REPLACE TEMP TABLE _wh_typed AS {_sql_for(table_spec(stream))[0]}"
    # Parsed on a cursor of the staging instance, which a pull opens anyway: a new instance would cost ~25 ms.
    with closing(_staging_instance().cursor()) as parser:
        return parser.extract_statements(sql)[0]


def _land_and_shape(con: duckdb.DuckDBPyConnection, spec: TableSpec, bodies: list[bytes]) -> None:
    """Create the temp table `_wh_typed`: one typed row per record of every body, with the reasons it is malformed."""
    con.register("_wh_bodies", _bodies_table(bodies))
    try:
        con.execute(_shape_statement(spec.stream))
    except duckdb.InvalidInputException as exc:
        # Only now pay for finding which body is broken, to name it in the error. orjson, not SQL: the
        # failed statement aborted the transaction.
        bad = [i for i, b in enumerate(bodies) if not _is_json(b)]
        if not bad:
            raise
        raise MalformedPageError(
            f"{spec.stream} page(s) {bad} are not valid JSON ({exc}); nothing of this batch was written"
        ) from exc
    # Not in a `finally`: an aborted transaction refuses it, and the next batch's register replaces the view.
    con.unregister("_wh_bodies")
    seen = {r[0] for r in con.execute("SELECT DISTINCT page_index FROM _wh_typed").fetchall()}
    for page_index in sorted(set(range(len(bodies))) - seen):
        # Only empty pages pay for this second parse: a record list that is not an array would otherwise
        # look like an empty page and its records would vanish.
        body = page_text(bodies[page_index])
        kind = con.execute("SELECT json_type(?, ?)", [body, f"$.{spec.page_key}"]).fetchall()[0][0]
        if kind not in (None, "NULL", "ARRAY"):
            raise MalformedPageError(
                f"{spec.stream} page {page_index}: {spec.page_key} is {kind}, expected an array of records; "
                "nothing of this batch was written"
            )


# --- the batch --------------------------------------------------------------------------------------------


_STAGED_VIEW = "_wh_staged"  # a StagingArea's rows, registered on the applying connection


@dataclass(frozen=True)
class StagedBatch:
    """A batch shaped into typed rows (`table`), not yet applied: see `stage_batch` and `apply_staged`."""

    stream: str
    pages: int
    fetched: int
    valid: int  # valid rows left after dropping the older copies of a repeated id
    duplicates: int  # older copies dropped (the last copy of an id in the batch wins)
    rejected: int  # rows with reasons <> ''
    max_created_date: datetime | None  # of the valid rows
    # Staged on another DuckDB instance (`StagingArea`): the typed rows, registered as `table` to be applied.
    rows: pa.Table | None = None

    @property
    def record_ids(self) -> pa.ChunkedArray:
        """Every staged record's id, malformed records' too (NULL where one has none), as Arrow."""
        if self.rows is None:
            raise ValueError("the batch was staged on the applying connection: read `_wh_typed` there")
        return self.rows.column("record_id")

    @property
    def table(self) -> str:
        """Where `_apply` reads the typed rows (valid ones have reasons = '')."""
        return "_wh_typed" if self.rows is None else _STAGED_VIEW


def _batch_bodies(spec: TableSpec, pages: Page | Iterable[Page], records: Sequence[Mapping[str, Any]]) -> list[bytes]:
    page_list = [pages] if isinstance(pages, bytes | bytearray | memoryview | str) else list(pages)
    bodies = [page_bytes(p) for p in page_list]
    if records:
        # Wrapped like a response body so one SQL statement (with a constant JSON path) lands both.
        bodies.append(orjson.dumps({spec.page_key: list(records)}))
    return bodies


def stage_batch(
    con: duckdb.DuckDBPyConnection,
    stream: str,
    pages: Page | Iterable[Page] = (),
    *,
    records: Sequence[Mapping[str, Any]] = (),
) -> StagedBatch:
    """Shape a batch into the temp table `_wh_typed` (replaced): steps 1-2 of the module docstring, plus dropping
    the older copies of an id the batch repeats. Reads nothing of the warehouse's tables, so it can run on another
    connection (a pull stages the next batch while the previous one is applied and committed)."""
    spec = table_spec(stream)
    bodies = _batch_bodies(spec, pages, records)
    _land_and_shape(con, spec, bodies)
    fetched, valid, distinct, batch_max = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE reasons = ''), count(DISTINCT id) FILTER (WHERE reasons = ''), "
        "max(created_date) FILTER (WHERE reasons = '') "
        "FROM _wh_typed"
    ).fetchall()[0]
    if distinct != valid:
        # A look-back window or a keyset page's anchor returns a record twice; the later copy is the fresher
        # read. Only the few older copies are deleted: rewriting the wide rows cost ~10 % of a full load.
        con.execute(
            "DELETE FROM _wh_typed WHERE rowid IN (SELECT rowid FROM _wh_typed WHERE reasons = '' "
            "QUALIFY row_number() OVER (PARTITION BY id ORDER BY page_index DESC, position DESC) > 1)"
        )
    return StagedBatch(
        stream=stream,
        pages=len(bodies),
        fetched=fetched,
        valid=distinct,
        duplicates=valid - distinct,
        rejected=fetched - valid,
        max_created_date=batch_max,
    )


def upsert_batch(
    con: duckdb.DuckDBPyConnection,
    stream: str,
    pages: Page | Iterable[Page] = (),
    *,
    records: Sequence[Mapping[str, Any]] = (),
    watermark: WatermarkValue | _AdvanceToMaxCreated | None = None,
    watermark_details: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    strict: bool = False,
) -> UpsertResult:
    """Upsert one batch (any number of pages) into `stream`'s table and commit it with its watermark.

    pages: raw response bodies (`{"contacts": [...], "pagingMetadata": {...}}`) as bytes or str: the fast
        path. A body without the record key counts as an empty page (Wix omits empty lists).
    records: record dicts (e.g. from a Get call or a webhook); serialised once with orjson and landed as
        one more page after `pages`.
    watermark: new value for `_watermarks[stream]`, written in the same transaction; None leaves it as is;
        ADVANCE_TO_MAX_CREATED moves it to the batch's max created_date if that is later.
    strict: raise MalformedRecordsError (rolling everything back) instead of quarantining bad records.

    The connection must not be inside a transaction; this function commits (or rolls back) its own.
    """
    with transaction(con):
        staged = stage_batch(con, stream, pages, records=records)
        result = _apply(
            con, staged, watermark=watermark, watermark_details=watermark_details, run_id=run_id, strict=strict
        )
        con.execute(f"DROP TABLE {staged.table}")
    return result


def apply_staged(
    con: duckdb.DuckDBPyConnection,
    staged: StagedBatch,
    *,
    watermark: WatermarkValue | _AdvanceToMaxCreated | None = None,
    watermark_details: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    strict: bool = False,
) -> UpsertResult:
    """Steps 3-6 for a batch `stage_batch` shaped (into a table of `con`, or by a `StagingArea`), in one
    transaction of `con`, which must not be inside one: a `RowGroupWriter` that never splits the batch (one place
    applies a part)."""
    writer = RowGroupWriter(con, watermark=watermark, run_id=run_id, strict=strict, rows_per_commit=sys.maxsize)
    (result,) = writer.write(staged, watermark_details=watermark_details, last=True)
    return result


def _apply(
    con: duckdb.DuckDBPyConnection,
    staged: StagedBatch,
    *,
    watermark: WatermarkValue | _AdvanceToMaxCreated | None,
    watermark_details: Mapping[str, Any] | None,
    run_id: str | None,
    strict: bool,
) -> UpsertResult:
    spec = table_spec(staged.stream)
    source = staged.table
    before = get_watermark(con, staged.stream)
    before_value = before.value if before else None
    if staged.rejected:
        _handle_rejects(con, spec, source, run_id=run_id, strict=strict)
    # Narrow on purpose: only (id, action) is materialised; the wide rows stay in the staged table.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _wh_actions AS
        SELECT v.id,
               CASE WHEN t.id IS NULL THEN 'insert'
                    WHEN t.deleted_at IS NOT NULL THEN 'revive'
                    WHEN t._record_hash IS DISTINCT FROM v._record_hash THEN 'update'
                    ELSE 'unchanged' END AS _action
        FROM {source} v LEFT JOIN {_stored_rows_like(con, spec, source)} t ON t.id = v.id
        WHERE v.reasons = ''"""
    )
    counts = dict.fromkeys(("insert", "update", "revive", "unchanged"), 0)
    for action, n in con.execute("SELECT _action, count(*) FROM _wh_actions GROUP BY ALL").fetchall():
        counts[action] = n
    insert_sql = _sql_for(spec)[1].format(source=source)
    if counts["insert"]:
        # New ids: a plain INSERT.
        only_new = (
            ""
            if counts["insert"] == staged.valid
            else " AND id IN (SELECT id FROM _wh_actions WHERE _action = 'insert')"
        )
        con.execute(insert_sql + only_new).fetchall()
    if counts["update"] or counts["revive"]:
        # Delete and re-insert the changed rows (same transaction) rather than ON CONFLICT DO UPDATE, which
        # took 8.6 s for 1,000 changed contacts in a 100k table against 0.11 s this way. The insert writes
        # every column, and loader-managed ones (merged_into) start NULL again: the record is alive.
        changed = "id IN (SELECT id FROM _wh_actions WHERE _action IN ('update', 'revive'))"
        con.execute(f"DELETE FROM main.{spec.table} WHERE {changed}").fetchall()
        con.execute(f"{insert_sql} AND {changed}").fetchall()
    after_value = before_value
    if watermark is ADVANCE_TO_MAX_CREATED:
        after_value = advance(before_value, staged.max_created_date)
        set_watermark(con, staged.stream, after_value, watermark_details)
    elif watermark is not None:
        after_value = watermark_text(watermark)  # type: ignore[arg-type]
        set_watermark(con, staged.stream, after_value, watermark_details)
    result_counts = {
        "pages": staged.pages,
        "fetched": staged.fetched,
        "inserted": counts["insert"],
        "updated": counts["update"] + counts["revive"],
        "unchanged": counts["unchanged"],
        "duplicates": staged.duplicates,
        "rejected": staged.rejected,
    }
    load_id = write_load_log(
        con,
        stream=staged.stream,
        operation="upsert",
        run_id=run_id,
        counts=result_counts,
        watermark_before=before_value,
        watermark_after=after_value,
    )
    con.execute("DROP TABLE IF EXISTS _wh_actions")
    return UpsertResult(
        stream=staged.stream,
        revived=counts["revive"],
        max_created_date=staged.max_created_date,
        watermark_before=before_value,
        watermark_after=after_value,
        load_id=load_id,
        **result_counts,
    )


# Up to this many stored rows sharing an id hash with a batch are read one lookup each: DuckDB pushes the equality
# on `_id_hash` into the scan (~4 ms at 1M rows); more are found by a join with the whole table (~55 ms at 1M rows,
# its `id` text scanned in full).
_POINT_LOOKUPS_MAX = 4


def _stored_rows_like(con: duckdb.DuckDBPyConnection, spec: TableSpec, source: str) -> str:
    """A FROM item of the stored rows (id, deleted_at, _record_hash) that may share an id with `source`'s valid rows.

    The tables have no primary key (schema migration 4): looking every id of a batch up in every stored row is what
    keeps ids unique. A full load's batch matches none or one row (a keyset page's anchor), so the lookup first
    scans `_id_hash` alone (~10 ms at 1M rows, against ~55 ms for the ids' text) and reads the few matching rows;
    a batch of updates is joined with the whole table. The hash only narrows the search (the join is on `id`), so
    a collision costs a lookup, nothing else."""
    table = f"main.{spec.table}"
    _rehash_ids_if_stale(con, table)
    hashes = [
        int(h)
        for (h,) in con.execute(
            f"SELECT DISTINCT _id_hash FROM {table} SEMI JOIN (SELECT hash(id) AS h FROM {source} WHERE reasons = '') "
            f"ON _id_hash = h LIMIT {_POINT_LOOKUPS_MAX + 1}"
        ).fetchall()
    ]
    if len(hashes) > _POINT_LOOKUPS_MAX:
        return table
    stored = f"SELECT id, deleted_at, _record_hash FROM {table}"
    lookups = [f"{stored} WHERE _id_hash = {h}" for h in hashes] or [f"{stored} LIMIT 0"]
    return f"({' UNION ALL '.join(lookups)})"


def _rehash_ids_if_stale(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """`_id_hash` is DuckDB's hash(), which a DuckDB upgrade may change; the lookups would then miss stored ids. One
    stored row tells (a changed function changes every value), and then every row is hashed again, once."""
    stale = con.execute(
        f"SELECT count(*) FROM (SELECT id, _id_hash FROM {table} LIMIT 1) WHERE _id_hash IS DISTINCT FROM hash(id)"
    ).fetchall()[0][0]
    if stale:
        con.execute(f"UPDATE {table} SET _id_hash = hash(id)")


def _handle_rejects(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, source: str, *, run_id: str | None, strict: bool
) -> None:
    if strict:
        n = con.execute(f"SELECT count(*) FROM {source} WHERE reasons <> ''").fetchall()[0][0]
        rows = con.execute(
            f"SELECT page_index, position, record_id, reasons FROM {source} "
            "WHERE reasons <> '' ORDER BY page_index, position LIMIT 10"
        ).fetchall()
        raise MalformedRecordsError(spec.stream, [RejectedRecord(*r) for r in rows], n)
    con.execute(
        f"""INSERT INTO main._rejected_records
           SELECT ?, ?, page_index, position, record_id, reasons, rec, now()
           FROM {source} WHERE reasons <> ''""",
        [spec.stream, run_id],
    ).fetchall()


_STAGING_MEMORY_LIMIT = "128MB"


@cache
def _staging_instance() -> duckdb.DuckDBPyConnection:
    """The process's staging DuckDB (in memory, one thread), made once: each `StagingArea` is a cursor of it, whose
    temp tables are its own. Opening an instance per pull cost ~25 ms, a fixed cost every incremental pays per
    stream. An in-memory instance would spill (a batch far larger than usual) into `.tmp` under the working
    directory, so it gets a temp directory of its own, removed at exit."""
    spill_dir = tempfile.mkdtemp(prefix="wix-staging-")
    atexit.register(shutil.rmtree, spill_dir, ignore_errors=True)
    return duckdb.connect(
        ":memory:", config={"threads": 1, "memory_limit": _STAGING_MEMORY_LIMIT, "temp_directory": spill_dir}
    )


class StagingArea:
    """Shapes batches on a DuckDB instance apart from the warehouse's (in memory, one thread, one per process) and
    hands the typed rows over as Arrow, so a pull shapes batch N+1 on one thread while batch N is applied and
    committed on another: DuckDB releases the GIL, and the two halves of a batch cost about the same.

    Another instance, not a cursor of the warehouse's: a transaction open on the warehouse's instance (a cursor's
    statement) makes DuckDB skip the automatic checkpoint at commit, and the uncheckpointed rows then pile up
    in memory for the whole load.
    """

    def __init__(self) -> None:
        self._con = _staging_instance().cursor()
        self._con.execute("SET TimeZone = 'UTC'")
        # JSON columns leave as Arrow's JSON extension type, so the warehouse reads them back as JSON, not VARCHAR
        # (which it would re-parse to validate).
        self._con.execute("SET arrow_lossless_conversion = true")

    def stage(
        self, stream: str, pages: Page | Iterable[Page] = (), *, records: Sequence[Mapping[str, Any]] = ()
    ) -> StagedBatch:
        staged = stage_batch(self._con, stream, pages, records=records)
        # Valid rows first, in the order of the pages (`RowGroupWriter` splits a batch after its first n valid
        # rows). The table is in that order already unless a record was rejected: only then pay for a sort.
        order = " ORDER BY reasons <> '', page_index, position" if staged.rejected else ""
        return replace(staged, rows=self._con.sql(f"SELECT * FROM {staged.table}{order}").to_arrow_table())

    def close(self) -> None:
        """Drop this area's temp tables (closing its cursor); the instance stays for the next pull."""
        self._con.close()


def _split(con: duckdb.DuckDBPyConnection, staged: StagedBatch, rows: int) -> tuple[StagedBatch, StagedBatch]:
    """The first `rows` valid rows of a batch a `StagingArea` shaped (valid rows first, in page order), and the
    rest. The head's `max_created_date` (its watermark) is capped at the rest's earliest createdDate, so a head
    committed without the rest cannot move the watermark past a record still to be written, whatever the order."""
    if staged.rows is None or not 0 < rows < staged.valid:
        raise ValueError(f"cannot split {rows} of {staged.valid} valid rows off a batch not staged as Arrow")
    head_rows, tail_rows = staged.rows.slice(0, rows), staged.rows.slice(rows)
    ((head_max,),) = con.from_arrow(head_rows).filter("reasons = ''").aggregate("max(created_date)").fetchall()
    ((tail_min, tail_max),) = (
        con.from_arrow(tail_rows).filter("reasons = ''").aggregate("min(created_date), max(created_date)").fetchall()
    )
    if head_max is not None and tail_min is not None:
        head_max = min(head_max, tail_min)
    head = replace(
        staged,
        rows=head_rows,
        fetched=rows,
        valid=rows,
        duplicates=0,
        rejected=0,
        max_created_date=head_max,
    )
    tail = replace(
        staged,
        rows=tail_rows,
        pages=0,
        fetched=staged.fetched - rows,
        valid=staged.valid - rows,
        max_created_date=tail_max,
    )
    return head, tail


class RowGroupWriter:
    """Applies a pull's staged batches (`StagingArea`) in transactions of whole row groups: a transaction commits
    once it has written `ROW_GROUP_SIZE` rows (new or changed; a batch is split where they fill up, its rest opens
    the next transaction), or read twice that many valid rows (a re-read of mostly unchanged records), and
    `write(..., last=True)` commits what is left.

    Why whole row groups: a transaction that appends at least a row group's rows is written by DuckDB straight
    into the file as compressed row groups, its rows kept out of the WAL and out of memory, where rows committed
    through the WAL stay (uncompressed) until the next checkpoint. Applying 100k staged contacts measured 2.36 s
    and 149 MB of DuckDB memory at its top in transactions of 5,000 rows, 1.74 s and 27 MB in such transactions.
    Exactly whole: a transaction of, say, 20,000 rows would end in a partly filled row group, and the next one's
    row groups would follow it; DuckDB's checkpoints merge such groups again, rewriting their rows.

    A transaction that appends fewer rows (an incremental pull, or a re-read where most rows are unchanged) goes
    through the WAL as before, so nothing changes for small runs. Each part is classified against every stored row
    (`_apply`), and a part is let go once applied: nothing is kept for the commit.
    `on_apply(part)` runs inside the transaction before each part (the pull collects live ids there). Use as a
    context manager: an error from outside (a failed page fetch) commits what was applied, since every applied part
    moved the watermark only past its own rows; an error inside `write` rolls the open transaction back (its parts
    are read again by the next run, from the committed watermark).
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        watermark: WatermarkValue | _AdvanceToMaxCreated | None = None,
        run_id: str | None = None,
        on_apply: Callable[[StagedBatch], None] | None = None,
        rows_per_commit: int = ROW_GROUP_SIZE,
        strict: bool = False,
    ) -> None:
        self._con = con
        self._strict = strict
        self._watermark = watermark
        self._run_id = run_id
        self._on_apply = on_apply
        self._rows_per_commit = rows_per_commit
        self._open = False
        self._results: list[UpsertResult] = []  # of the parts applied in the open transaction
        self._valid = 0  # valid rows of the open transaction's parts
        self._written = 0  # of those, rows written (new or changed)
        # A transaction that writes few of its rows (a re-read of unchanged records) commits at this many anyway.
        self._max_valid = 2 * rows_per_commit
        self.commits = 0

    def __enter__(self) -> RowGroupWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is None or issubclass(exc_type, Exception):
            self.commit()
        else:
            self._rollback()

    def write(
        self, staged: StagedBatch, *, watermark_details: Mapping[str, Any] | None = None, last: bool = False
    ) -> list[UpsertResult]:
        """Apply `staged`, committing whenever the open transaction holds `rows_per_commit` valid rows (and at
        the end when `last`). Returns the results of the parts committed by this call, oldest first."""
        committed: list[UpsertResult] = []
        part: StagedBatch | None = staged
        try:
            while part is not None:
                # Unchanged rows are not written (a keyset page repeats the last record of the one before), so a
                # part is cut where its rows could at most complete the row group; the rest follows once counted.
                room = min(self._rows_per_commit - self._written, self._max_valid - self._valid)
                head, part = (part, None) if part.valid <= room else _split(self._con, part, room)
                self._apply(head, watermark_details)
                if self._written >= self._rows_per_commit or self._valid >= self._max_valid:
                    committed += self.commit()
            if last:
                committed += self.commit()
        except BaseException:
            self._rollback()
            raise
        return committed

    def _apply(self, part: StagedBatch, details: Mapping[str, Any] | None) -> None:
        """Apply one part in the open transaction (opened here); the caller rolls back on an error."""
        if not self._open:
            self._con.execute("BEGIN TRANSACTION")
            self._open = True
        if part.rows is not None:
            self._con.register(part.table, part.rows)
        if self._on_apply is not None:
            self._on_apply(part)
        result = _apply(
            self._con,
            part,
            watermark=self._watermark,
            watermark_details=details,
            run_id=self._run_id,
            strict=self._strict,
        )
        # Not in a `finally`: an aborted transaction refuses it (the rollback does it then).
        self._unregister()
        self._results.append(result)
        self._valid += part.valid
        self._written += result.inserted + result.updated

    def _unregister(self) -> None:
        with suppress(duckdb.Error):
            self._con.unregister(_STAGED_VIEW)

    def commit(self) -> list[UpsertResult]:
        """Commit what the open transaction holds; its parts' results, oldest first (none if nothing is open)."""
        if not self._open:
            return []
        try:
            self._con.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        committed, self._results, self._open = self._results, [], False
        self._valid = self._written = 0
        self.commits += 1
        return committed

    def _rollback(self) -> None:
        if self._open:
            self._open = False
            self._results, self._valid, self._written = [], 0, 0
            with suppress(duckdb.Error):  # a failed COMMIT has ended the transaction already
                self._con.execute("ROLLBACK")
            self._unregister()
