"""Pull a stream from Wix into the warehouse: full, incremental, reconciliation, or a createdDate range.

The guarantees, for every stream:
- Records are committed with their watermark in one transaction, a row group's worth of written rows at a time
  (`RowGroupWriter`: DuckDB then writes them straight to the file), so a run that dies resumes from its last
  commit and a repeated run changes no row (upserts compare record hashes).
- Incremental pulls re-read `watermark - lookback` (inclusive), so records tied on the watermark's millisecond
  and records that show up late inside the look-back are loaded; the upsert makes the overlap harmless.
- Contacts also ask for `updatedDate >= <start of the last complete pass> - updated_lookback` in the same query,
  so a no-change run is one request. The bound is the pass's *start*, not the largest updatedDate seen: updatedDate
  cannot be sorted on, so the pass reads in createdDate order, and a contact updated while the pass runs may sit
  behind its position; the next pass catches it because its updatedDate is later than this pass's start. The
  look-back there only has to cover clock skew between us and Wix and the delay before an update shows in query
  results (seconds), not late-arriving records (the createdDate look-back's job): with the createdDate look-back
  of an hour, every contact updated in the hour before a run was read again by the next run. Anything later still
  is caught by the daily reconciliation. The other APIs cannot filter on updatedDate; a reconciliation pass re-reads
  them in full (changed votes, moderation, replies) and marks records that disappeared as deleted.
- Three threads, each bounded ahead of the next so memory does not grow with the data: one fetches pages, one
  shapes batches into typed rows on a DuckDB instance of its own, and the caller's applies and commits them
  (DuckDB releases the GIL, and shaping and applying a batch cost about the same).

No Dagster here: the assets in `wix_pipelines.defs.ingest` call these functions and report what they return.
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import duckdb

from wix_pipelines.warehouse import (
    ADVANCE_TO_MAX_CREATED,
    IdReconciler,
    RowGroupWriter,
    StagedBatch,
    StagingArea,
    Warehouse,
    Watermark,
    get_watermark,
)
from wix_pipelines.warehouse.upserts import UpsertResult
from wix_pipelines.wix import WixClient
from wix_pipelines.wix.paging import Page

from .streams import STREAMS, PageWindow

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class PullOptions:
    lookback: timedelta = timedelta(hours=1)  # createdDate: late records (imports, search-index lag)
    # updatedDate, from the start of the last complete pass: clock skew and the delay before an update is queryable.
    updated_lookback: timedelta = timedelta(seconds=5)
    # Records shaped at a time: 10 contact pages, or 100 cursor pages of 100. A batch costs a fixed ~25 ms of
    # planning its shaping SQL; 10,000 against 5,000 measured -5 % time for +15 MB of peak memory (100k contacts).
    # Commits are apart from batches: a row group of written rows each (`RowGroupWriter`), and the end of the pass.
    records_per_batch: int = 10_000
    prefetch_pages: int = 3  # pages fetched ahead of the DuckDB work
    # Batches shaped (by a thread of their own) ahead of the one being committed; 0 shapes on the caller's thread.
    staged_batches_ahead: int = 1
    # The pull's DuckDB connection: a bounded buffer pool (DuckDB defaults to 80 % of RAM and keeps what it read)
    # and a checkpoint every 128 MB of WAL, so the process's memory does not grow with the size of the site.
    duckdb_working_memory_mb: int = 256
    duckdb_checkpoint_threshold: str = "128MB"
    reconcile: bool = False  # full re-read: catches updates the API cannot filter on, and deletions
    progress_every_pages: int = 25
    # A reconciliation that would mark more than this share of a table deleted stops instead: an API that
    # suddenly lists nothing (wrong site id, an outage answered with empty pages) must not wipe the warehouse.
    max_deleted_fraction: float | None = 0.5


@dataclass
class PullReport:
    """What one pull did; its fields become the asset's materialization metadata."""

    stream: str
    mode: str  # full | incremental | reconcile | range
    pages: int = 0
    batches: int = 0
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    rejected: int = 0
    deleted: int = 0
    requests: int = 0
    watermark_before: str | None = None
    watermark_after: str | None = None
    seconds: float = 0.0
    window: dict[str, str | None] = field(default_factory=dict)

    def add(self, committed: list[UpsertResult], pages: int) -> None:
        """Count `pages` API pages read and the batch parts committed since the last call."""
        self.pages += pages
        for result in committed:
            self.batches += 1
            for name in ("fetched", "inserted", "updated", "unchanged", "duplicates", "rejected"):
                setattr(self, name, getattr(self, name) + getattr(result, name))
            self.watermark_after = result.watermark_after

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> datetime:
    return datetime.now(UTC)


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def prefetch(items: Iterable[T], depth: int) -> Iterator[T]:
    """Iterate `items` in a background thread, at most `depth` ahead; errors surface in the consumer."""
    buffer: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=max(depth, 1))
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(("done", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            buffer.put(("error", exc))

    thread = threading.Thread(target=produce, name="wix-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, payload = buffer.get()
            if kind == "done":
                return
            if kind == "error":
                raise payload
            yield payload
    finally:
        stop.set()
        thread.join(timeout=5)


@contextmanager
def _heap_frozen() -> Iterator[None]:
    """Keep the objects that exist before the pull (the host's: Dagster's and every import's, ~230k in an asset run)
    out of the cyclic garbage collector's full collections while it runs. A full collection walks all of them
    (~0.15 s) and a pull allocates enough to trigger several (every page is a thousand dicts). Measured: a
    100k-rating pull spent 0.7-1.0 s collecting, 0.35-0.4 s with the freeze; a small incremental pass 0.13-0.19 s,
    then ~0. Unfreezing at the end hands them back, so nothing is pinned: garbage among them is only collected
    after the pull instead of during it. A host that froze objects itself (an in-process emulator does after
    seeding) manages that generation: we leave it alone rather than unfreeze its objects."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _batches(pages: Iterator[Page], records: int, *, quick_start: bool) -> Iterator[tuple[list[Page], bool]]:
    """Pages grouped into batches of at least `records` records; the flag marks the last batch of the pass.

    With `quick_start` (a full pass) the first batch is a fifth of that: the DuckDB threads start on it while the
    rest of a batch is fetched. Not in an incremental pass, which is mostly shorter than one batch: a second
    batch there only adds its fixed cost (~50 ms to shape and apply)."""
    batch: list[Page] = []
    size = 0
    limit = max(records // 5, 1) if quick_start else records
    for page in pages:
        if size >= limit:
            yield batch, False
            batch, size, limit = [], 0, records
        batch.append(page)
        size += len(page.items)
    yield batch, True  # possibly empty: the last call commits the end-of-pass watermark details


@contextmanager
def _staged_batches(
    stream_name: str, pages: Iterable[Page], options: PullOptions, *, quick_start: bool = True
) -> Iterator[Iterator[tuple[int, bool, StagedBatch]]]:
    """Batches of `pages` (as their page count and end-of-pass flag), each already shaped by a thread that runs ahead
    of the caller, who applies and commits them (`RowGroupWriter`). Three threads in all: HTTP, shaping, applying;
    the last two spend their time in DuckDB, which releases the GIL. Measured on 2 cores: a second shaping thread,
    or more batches shaped ahead, gained nothing (the three threads already keep both cores busy) and cost ~10 MB
    of memory per 5,000 contacts in flight."""
    stage = StagingArea()
    page_feed = prefetch(pages, options.prefetch_pages)
    # The page count only: a batch's bodies are freed once staged, not kept until it is committed.
    shaped = (
        (len(batch), end, stage.stage(stream_name, [page.raw for page in batch]))
        for batch, end in _batches(page_feed, options.records_per_batch, quick_start=quick_start)
    )
    staged = prefetch(shaped, options.staged_batches_ahead) if options.staged_batches_ahead else shaped
    try:
        yield staged
    finally:
        # Both threads stop before the staging area goes away; the staging thread first, since it reads the page
        # feed: closing a generator another thread is inside raises, and would hide the caller's error. Should
        # that thread still be inside after its 5 s join (a page slow to come), it is a daemon and ends on its own.
        staged.close()
        with suppress(ValueError):
            page_feed.close()
        stage.close()


def _tune(con: duckdb.DuckDBPyConnection, options: PullOptions) -> None:
    # No eviction here (~5 ms a pull): the file is usually just attached, and each commit evicts what piles up.
    con.execute(f"SET checkpoint_threshold = '{options.duckdb_checkpoint_threshold}'")
    con.execute(f"SET memory_limit = '{options.duckdb_working_memory_mb}MiB'")


def _drop_cached_blocks(con: duckdb.DuckDBPyConnection, options: PullOptions) -> None:
    """Evict the table blocks DuckDB keeps in its buffer pool after writing (or reading) them, and set the memory
    limit to the working memory. DuckDB frees such blocks only when memory runs short, so by the end of a
    1M-contact load they held ~100 MB, memory that grew with the table. Asking for a limit below what cannot be
    evicted (open temp tables, a transaction's changes) evicts every block that can be and is refused. Run after
    each commit, on a cursor of its own: the refusal aborts the statement's transaction, and the pull's may be
    open."""
    with closing(con.cursor()) as cursor:
        with suppress(duckdb.OutOfMemoryException):
            cursor.execute("SET memory_limit = '1MB'")
        cursor.execute(f"SET memory_limit = '{options.duckdb_working_memory_mb}MiB'")


def _window_text(window: PageWindow) -> dict[str, str | None]:
    return {
        name: (value.isoformat() if isinstance(value, datetime) else None)
        for name, value in (
            ("created_since", window.created_since),
            ("created_before", window.created_before),
            ("updated_since", window.updated_since),
        )
    }


def _plan(stream_name: str, watermark: Watermark | None, options: PullOptions) -> tuple[str, PageWindow]:
    since = _parse(watermark.value) if watermark else None
    if watermark is None or since is None:
        return "full", PageWindow()
    if options.reconcile:
        return "reconcile", PageWindow()
    stream = STREAMS[stream_name]
    updated_since = _parse(watermark.details.get("updated_since")) if stream.filters_updated_date else None
    return "incremental", PageWindow(
        created_since=since - options.lookback,
        updated_since=updated_since - options.updated_lookback if updated_since else None,
    )


def pull_stream(
    client: WixClient,
    warehouse: Warehouse,
    stream_name: str,
    options: PullOptions = PullOptions(),
    *,
    run_id: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> PullReport:
    """Bring `stream_name`'s table up to date with the site. See the module docstring for the guarantees."""
    stream = STREAMS[stream_name]
    say = progress or log.info
    started_clock = time.monotonic()
    pass_started = _now()
    requests_before = client.stats.requests
    # One connection for the whole pull: every batch still commits on its own (with its watermark), but closing a
    # DuckDB connection checkpoints, which per batch costs about a third of a full load's time.
    with _heap_frozen(), warehouse.connect() as con:
        _tune(con, options)
        watermark = get_watermark(con, stream_name)
        mode, window = _plan(stream_name, watermark, options)
        report = PullReport(stream=stream_name, mode=mode, window=_window_text(window))
        report.watermark_before = watermark.value if watermark else None
        # Start of the oldest pass not yet completed: records updated after it may not be loaded yet.
        pending_updated_since = (watermark.details.get("updated_since") if watermark else None) or (
            pass_started.isoformat()
        )
        # Full passes list every live id; those the warehouse has and the API no longer lists were deleted.
        reconciles = mode in ("full", "reconcile") and IdReconciler.has_alive_rows(con, stream_name)
        live_ids = IdReconciler(con, stream_name) if reconciles else None

        say(f"{stream_name}: {mode} pull, window {report.window}")
        # Every record's id as staging read it (malformed records count as listed too), in the transaction
        # that writes the record.
        on_apply = (lambda part: live_ids.add(part.record_ids)) if live_ids is not None else None
        writer = RowGroupWriter(con, watermark=ADVANCE_TO_MAX_CREATED, run_id=run_id, on_apply=on_apply)
        # The response bodies as received: DuckDB parses them (no re-serialising in Python). A keyset page's body
        # may repeat a record of the previous page; staging keeps one copy.
        pages_of_pass = stream.pages(client, window)
        with _staged_batches(stream_name, pages_of_pass, options, quick_start=mode != "incremental") as batches, writer:
            for pages, end_of_pass, staged in batches:
                # The pass is complete when the pages ran dry: only then may `updated_since` move to its start.
                details = {"updated_since": pass_started.isoformat() if end_of_pass else pending_updated_since}
                committed = writer.write(staged, watermark_details=details, last=end_of_pass)
                report.add(committed, pages)
                if committed:
                    _drop_cached_blocks(con, options)
                if report.pages and report.pages % options.progress_every_pages < pages:
                    say(
                        f"{stream_name}: {report.fetched:,} records, {report.pages} pages, "
                        f"up to {report.watermark_after}"
                    )

        if live_ids is not None:
            report.deleted = live_ids.finish(
                run_id=run_id, max_deleted_fraction=options.max_deleted_fraction
            ).marked_deleted
    return _finish(report, client, requests_before, started_clock, say)


def pull_range(
    client: WixClient,
    warehouse: Warehouse,
    stream_name: str,
    created_since: datetime,
    created_before: datetime,
    options: PullOptions = PullOptions(),
    *,
    run_id: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> PullReport:
    """Re-pull the records created in [created_since, created_before): a backfill of one date partition.

    Idempotent (upserts by id and record hash) and leaves the stream's watermark alone, so it can run beside the
    scheduled pulls and any number of times.
    """
    stream = STREAMS[stream_name]
    say = progress or log.info
    started_clock = time.monotonic()
    window = PageWindow(created_since=created_since, created_before=created_before)
    report = PullReport(stream=stream_name, mode="range", window=_window_text(window))
    requests_before = client.stats.requests
    with _heap_frozen(), warehouse.connect() as con:
        _tune(con, options)
        writer = RowGroupWriter(con, run_id=run_id)
        pages_of_range = stream.pages(client, window)
        with _staged_batches(stream_name, pages_of_range, options, quick_start=False) as batches, writer:
            for pages, _, staged in batches:
                if pages:
                    report.add(writer.write(staged), pages)
            report.add(writer.commit(), 0)
    # The upsert reports the stream's watermark, which a range pull neither reads nor moves.
    report.watermark_before = report.watermark_after = None
    return _finish(report, client, requests_before, started_clock, say)


def _finish(
    report: PullReport, client: WixClient, requests_before: int, started_clock: float, say: Callable[[str], None]
) -> PullReport:
    report.requests = client.stats.requests - requests_before
    report.seconds = round(time.monotonic() - started_clock, 3)
    say(
        f"{report.stream}: {report.mode} pull done in {report.seconds:.1f} s: {report.fetched:,} fetched, "
        f"{report.inserted:,} inserted, {report.updated:,} updated, {report.deleted:,} deleted, "
        f"{report.requests} requests"
    )
    return report
