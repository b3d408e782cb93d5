"""Set-based deletion bookkeeping: mark ids deleted, reconcile against the live id set, mark merges."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa

from .errors import ReconciliationAbortedError
from .tables import table_spec
from .transaction import transaction
from .upserts import page_text
from .watermarks import write_load_log


@dataclass(frozen=True)
class ReconcileResult:
    table: str
    live_ids: int  # distinct ids the API listed
    marked_deleted: int  # rows that were alive here and are not in the live set
    alive_after: int
    # Rows marked deleted here whose id the API still lists: the next upsert of those records revives them.
    listed_but_deleted: int
    load_id: int


def mark_deleted(
    con: duckdb.DuckDBPyConnection,
    table: str,
    ids: Sequence[str],
    *,
    at: datetime | None = None,
    run_id: str | None = None,
) -> int:
    """Set deleted_at on the alive rows among `ids` (unknown ids are ignored). Returns rows marked."""
    spec = table_spec(table)
    with transaction(con):
        n = _mark(con, spec.table, "SELECT DISTINCT unnest(CAST(? AS VARCHAR[])) AS id", [list(ids)], at)
        counts = {"deleted": n, "fetched": len(ids)}
        write_load_log(con, stream=spec.stream, operation="mark_deleted", run_id=run_id, counts=counts)
    return n


def _mark(con: duckdb.DuckDBPyConnection, table: str, ids_sql: str, params: list[object], at: datetime | None) -> int:
    rows = con.execute(
        f"UPDATE main.{table} SET deleted_at = coalesce(CAST(? AS TIMESTAMPTZ), now()) "
        f"WHERE deleted_at IS NULL AND id IN ({ids_sql})",
        [at, *params],
    ).fetchall()
    return int(rows[0][0]) if rows else 0


def mark_merged(
    con: duckdb.DuckDBPyConnection,
    merges: Mapping[str, str],
    *,
    at: datetime | None = None,
    run_id: str | None = None,
) -> int:
    """Record contact merges {source id: target id}: the source rows get merged_into and deleted_at.

    Wix deletes the sources of a merge (SPEC §3.8); keeping the rows with merged_into lets analysts
    follow old contact ids (e.g. reviews by a merged-away author) to the surviving contact.
    """
    sources, targets = list(merges), list(merges.values())
    with transaction(con):
        rows = con.execute(
            """UPDATE main.contacts SET merged_into = m.target,
                      deleted_at = coalesce(contacts.deleted_at, CAST(? AS TIMESTAMPTZ), now())
               FROM (SELECT unnest(CAST(? AS VARCHAR[])) AS source, unnest(CAST(? AS VARCHAR[])) AS target) m
               WHERE contacts.id = m.source""",
            [at, sources, targets],
        ).fetchall()
        n = int(rows[0][0]) if rows else 0
        write_load_log(con, stream="contacts", operation="mark_merged", run_id=run_id, counts={"deleted": n})
    return n


class IdReconciler:
    """Collect the live id set of a table batch by batch, then mark every missing row deleted in one UPDATE.

    The ids go into a temp table, so the listing may be long (every page of a 100k-contact site) without
    holding ids in Python; the temp table lives on this connection only, so keep the connection open from
    the first `add` to `finish`.
    """

    @staticmethod
    def has_alive_rows(con: duckdb.DuckDBPyConnection, table: str) -> bool:
        """Whether `table` has a row a listing could find missing: a first load has none, and can skip collecting
        its ids (a million contacts' ids take ~40 MB in DuckDB)."""
        spec = table_spec(table)
        return bool(
            con.execute(f"SELECT EXISTS (SELECT 1 FROM main.{spec.table} WHERE deleted_at IS NULL)").fetchall()[0][0]
        )

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str) -> None:
        self._con = con
        self._spec = table_spec(table)
        self._tmp = f"_wh_live_{self._spec.table}"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {self._tmp} (id VARCHAR)")

    def add(self, batch: Sequence[str] | bytes | bytearray | memoryview | pa.Array | pa.ChunkedArray) -> None:
        """Add live ids: a list of ids, an Arrow array of them (NULLs skipped: a staged batch's `record_id`), or a
        raw response body (bytes) whose record ids SQL extracts."""
        if isinstance(batch, str):
            raise TypeError("IdReconciler.add takes a list of ids or a page body as bytes, not one str")
        if isinstance(batch, pa.Array | pa.ChunkedArray):
            self._con.from_arrow(pa.Table.from_arrays([batch], names=["id"])).filter("id IS NOT NULL").insert_into(
                self._tmp
            )
        elif isinstance(batch, bytes | bytearray | memoryview):
            self._con.execute(
                f"INSERT INTO {self._tmp} SELECT unnest(json_extract_string(?, ?))",
                [page_text(batch), f"$.{self._spec.page_key}[*].id"],
            ).fetchall()
        else:
            self._con.execute(f"INSERT INTO {self._tmp} SELECT unnest(CAST(? AS VARCHAR[]))", [list(batch)]).fetchall()

    def finish(
        self,
        *,
        at: datetime | None = None,
        run_id: str | None = None,
        max_deleted_fraction: float | None = None,
    ) -> ReconcileResult:
        """Mark alive rows whose id was not listed; commit with a `_load_log` row.

        max_deleted_fraction: refuse (ReconciliationAbortedError, nothing written) when more than this share
        of the alive rows would be marked deleted: a truncated or failed listing must not wipe the table.
        """
        con, table, tmp = self._con, self._spec.table, self._tmp
        try:
            with transaction(con):
                live, alive, missing, listed_deleted = con.execute(
                    f"""SELECT (SELECT count(DISTINCT id) FROM {tmp}),
                               count(*) FILTER (WHERE t.deleted_at IS NULL),
                               count(*) FILTER (WHERE t.deleted_at IS NULL AND l.id IS NULL),
                               count(*) FILTER (WHERE t.deleted_at IS NOT NULL AND l.id IS NOT NULL)
                        FROM main.{table} t LEFT JOIN (SELECT DISTINCT id FROM {tmp}) l ON l.id = t.id"""
                ).fetchall()[0]
                if max_deleted_fraction is not None and alive and missing / alive > max_deleted_fraction:
                    raise ReconciliationAbortedError(
                        f"reconciling {table} would mark {missing} of {alive} alive rows deleted "
                        f"(> {max_deleted_fraction:.0%}) from a listing of {live} ids; nothing was changed. "
                        "Check that the id listing completed, or raise max_deleted_fraction."
                    )
                marked = _mark(con, table, f"SELECT id FROM main.{table} ANTI JOIN {tmp} USING (id)", [], at)
                load_id = write_load_log(
                    con,
                    stream=self._spec.stream,
                    operation="reconcile",
                    run_id=run_id,
                    counts={"fetched": live, "deleted": marked},
                )
        finally:
            con.execute(f"DROP TABLE IF EXISTS {tmp}")
        return ReconcileResult(
            table=table,
            live_ids=int(live),
            marked_deleted=marked,
            alive_after=int(alive) - marked,
            listed_but_deleted=int(listed_deleted),
            load_id=load_id,
        )


_ID_CHUNK = 50_000


def reconcile_ids(
    con: duckdb.DuckDBPyConnection,
    table: str,
    live_ids: Iterable[str | Sequence[str] | bytes],
    *,
    at: datetime | None = None,
    run_id: str | None = None,
    max_deleted_fraction: float | None = None,
) -> ReconcileResult:
    """Stream the live id set in, then mark every other alive row deleted.

    live_ids may mix single ids (str, buffered and sent in chunks), lists of ids, and raw page bodies (bytes).
    """
    reconciler = IdReconciler(con, table)
    buffer: list[str] = []
    for item in live_ids:
        if isinstance(item, str):
            buffer.append(item)
            if len(buffer) >= _ID_CHUNK:
                reconciler.add(buffer)
                buffer = []
        else:
            reconciler.add(item)
    if buffer:
        reconciler.add(buffer)
    return reconciler.finish(at=at, run_id=run_id, max_deleted_fraction=max_deleted_fraction)
