"""Opening the warehouse file: short-lived connections, a retry on the cross-process lock, schema upkeep.

DuckDB lets one process at a time open a file read-write (and a read-only process blocks a writer too), so
the file is not kept open between calls: every public entry point opens a connection in a `with` block, and
the last one to end detaches the file (checkpointing it, releasing the lock). The in-memory DuckDB instance the
file is attached to stays for the next call: making one cost 18-30 ms, paid by every pull of every stream.
Dagster's concurrency pool serialises the writers; the lock retry here is belt and braces for
anything that slips past it (a CLI run, a second code location).
"""

from __future__ import annotations

import atexit
import hashlib
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from . import deletions, upserts, watermarks
from .errors import WarehouseLockedError
from .schema import SCHEMA_VERSION, ensure_schema
from .tables import ROW_GROUP_SIZE, STREAMS, table_spec

_LOCK_MESSAGES = ("could not set lock on file", "conflicting lock is held")

# Loads commit every batch; a checkpoint at each commit once the WAL passes 16 MB (DuckDB's default)
# rewrote compressed blocks again and again and made a 100k-contact load ~40% slower. The WAL is as
# durable as the main file, and the connection's close (or the snapshot) checkpoints once at the end.
_CHECKPOINT_THRESHOLD = "1GB"

_CATALOG = "warehouse"


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(m in text for m in _LOCK_MESSAGES)


def open_connection(
    path: str | Path,
    *,
    read_only: bool = False,
    lock_timeout: float = 60.0,
    poll_interval: float = 0.2,
) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse file, with retries while another process holds its lock.

    Raises WarehouseLockedError after `lock_timeout` seconds. The caller owns (and must close) the result;
    prefer `Warehouse.connect()`, which does.
    """
    deadline = time.monotonic() + lock_timeout
    delay = poll_interval
    while True:
        try:
            con = _attach(path, read_only=read_only)
        except duckdb.IOException as exc:
            if not _is_lock_error(exc):
                raise
            if time.monotonic() >= deadline:
                raise WarehouseLockedError(
                    f"{path} stayed locked by another process for {lock_timeout:.0f}s ({exc}). Another run "
                    "is writing (or something holds it open read-only: analysts should use the published "
                    "snapshot instead). Retry later, or raise the lock timeout."
                ) from exc
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 1.5, 2.0)
            continue
        try:
            con.execute("SET TimeZone = 'UTC'")  # TIMESTAMPTZ values come back in UTC whatever the host says
            if not read_only:
                con.execute(f"SET checkpoint_threshold = '{_CHECKPOINT_THRESHOLD}'")
        except BaseException:
            con.close()
            raise
        return con


def _instance(path: str | Path, *, read_only: bool) -> tuple[str, dict[str, str]]:
    """The name and config of the in-memory instance `path` is attached to (every connection to a named instance
    must pass the same config). Its spill directory is next to the file, where DuckDB puts a file's own: an
    in-memory instance would spill into `.tmp` in the working directory."""
    resolved = Path(path).resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:16]
    return f":memory:wix-warehouse-{'ro' if read_only else 'rw'}-{digest}", {"temp_directory": f"{resolved}.tmp"}


def _attach(path: str | Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A connection to an in-memory instance with the warehouse file attached (with our row group size) and in use.

    The instance is named after the file, so DuckDB shares it between the connections this process holds at once,
    as it does for a file opened directly: a second connection reuses the attached file instead of failing on
    DuckDB's one-handle-per-file rule. Once no connection to it is left, DuckDB drops the instance, which detaches
    the file (and checkpoints it), unless `Warehouse.connect` keeps the instance (`_KeptInstances`)."""
    name, config = _instance(path, read_only=read_only)
    con = duckdb.connect(name, config=config)
    try:
        literal = "'" + str(path).replace("'", "''") + "'"
        mode = ", READ_ONLY" if read_only else ""
        con.execute(f"ATTACH IF NOT EXISTS {literal} AS {_CATALOG} (ROW_GROUP_SIZE {ROW_GROUP_SIZE}{mode})")
        con.execute(f"USE {_CATALOG}")
    except BaseException:
        con.close()
        raise
    return con


def _schema_is_current(con: duckdb.DuckDBPyConnection) -> bool:
    """One indexed read instead of `ensure_schema`'s catalog scan (~25 ms, paid by every connection)."""
    try:
        rows = con.execute("SELECT max(version) FROM main._schema_version").fetchall()
    except duckdb.CatalogException:  # a new file: ensure_schema creates everything
        return False
    return rows[0][0] == SCHEMA_VERSION


class _KeptInstances:
    """The warehouse instances this process keeps between `Warehouse.connect` blocks, one per file and mode, each
    with the number of blocks open on it; the last block to end detaches the file, and resets the settings a pull
    changes instance-wide (its memory limit must not bind the next caller)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keepers: dict[str, duckdb.DuckDBPyConnection] = {}
        self._users: Counter[str] = Counter()
        # Closed at exit, so that DuckDB shuts the instances down and removes their spill directories.
        atexit.register(self.close_all)

    def enter(self, name: str, config: dict[str, str]) -> None:
        with self._lock:
            if name not in self._keepers:
                self._keepers[name] = duckdb.connect(name, config=config)
            self._users[name] += 1

    def leave(self, name: str) -> None:
        with self._lock:
            self._users[name] -= 1
            keeper = self._keepers.get(name)
            if self._users[name] or keeper is None:  # (None: closed at exit while this block was still open)
                return
            try:
                keeper.execute(f"DETACH DATABASE IF EXISTS {_CATALOG}")
                keeper.execute("RESET memory_limit")
                keeper.execute("RESET checkpoint_threshold")
            except BaseException:
                # Closing the instance's last connection is what detached the file before: never leave it held.
                del self._keepers[name]
                keeper.close()
                raise

    def close_all(self) -> None:
        with self._lock:
            keepers, self._keepers = self._keepers, {}
            for keeper in keepers.values():
                keeper.close()


_KEPT = _KeptInstances()


class Warehouse:
    """The DuckDB warehouse file. Holds a path, never an open connection.

    Either call the convenience methods (each opens, works, commits and closes), or hold one connection for
    a whole run and call the module functions (`upserts.upsert_batch(con, ...)` etc.), which commit batch
    by batch:

        with Warehouse(path).connect() as con:
            for pages in batches:
                upsert_batch(con, "contacts", pages, watermark=...)
    """

    def __init__(self, path: str | Path, *, lock_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout

    def __repr__(self) -> str:
        return f"Warehouse({str(self.path)!r})"

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for the duration of the `with` block; read-write ones bring the schema up to date."""
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        name, config = _instance(self.path, read_only=read_only)
        _KEPT.enter(name, config)
        try:
            con = open_connection(self.path, read_only=read_only, lock_timeout=self.lock_timeout)
            try:
                if not read_only and not _schema_is_current(con):
                    ensure_schema(con)
                yield con
            finally:
                con.close()
        finally:
            _KEPT.leave(name)

    # --- convenience: one connection per call -------------------------------------------------------------

    def ensure_schema(self) -> tuple[int, int]:
        with self.connect() as con:
            return ensure_schema(con)

    def upsert_batch(
        self,
        stream: str,
        pages: upserts.Page | Iterable[upserts.Page] = (),
        *,
        records: Sequence[Mapping[str, Any]] = (),
        watermark: watermarks.WatermarkValue | watermarks._AdvanceToMaxCreated | None = None,
        watermark_details: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        strict: bool = False,
    ) -> upserts.UpsertResult:
        with self.connect() as con:
            return upserts.upsert_batch(
                con,
                stream,
                pages,
                records=records,
                watermark=watermark,
                watermark_details=watermark_details,
                run_id=run_id,
                strict=strict,
            )

    def get_watermark(self, stream: str) -> watermarks.Watermark | None:
        with self.connect() as con:
            return watermarks.get_watermark(con, stream)

    def max_created_date(self, table: str, *, include_deleted: bool = True) -> datetime | None:
        with self.connect() as con:
            return watermarks.max_created_date(con, table, include_deleted=include_deleted)

    def mark_deleted(
        self, table: str, ids: Sequence[str], *, at: datetime | None = None, run_id: str | None = None
    ) -> int:
        with self.connect() as con:
            return deletions.mark_deleted(con, table, ids, at=at, run_id=run_id)

    def mark_merged(self, merges: Mapping[str, str], *, at: datetime | None = None, run_id: str | None = None) -> int:
        with self.connect() as con:
            return deletions.mark_merged(con, merges, at=at, run_id=run_id)

    def reconcile_ids(
        self,
        table: str,
        live_ids: Iterable[str | Sequence[str] | bytes],
        *,
        at: datetime | None = None,
        run_id: str | None = None,
        max_deleted_fraction: float | None = None,
    ) -> deletions.ReconcileResult:
        with self.connect() as con:
            return deletions.reconcile_ids(
                con, table, live_ids, at=at, run_id=run_id, max_deleted_fraction=max_deleted_fraction
            )

    def row_counts(self, *, include_deleted: bool = False) -> dict[str, int]:
        """Rows per table (alive only by default), e.g. for `make demo` and asset metadata."""
        where = "" if include_deleted else " WHERE deleted_at IS NULL"
        with self.connect() as con:
            return {
                s: int(con.execute(f"SELECT count(*) FROM main.{table_spec(s).table}{where}").fetchall()[0][0])
                for s in STREAMS
            }
