"""Where a pull's time and memory go: one stream, no Dagster, phase by phase.

    .venv/bin/python bench/profile_pull.py --stream contacts --contacts 100000
    .venv/bin/python bench/profile_pull.py --stream ratings --ratings 200000 --records-per-batch 5000
    .venv/bin/py-spy record -o /tmp/pull.svg -- .venv/bin/python bench/profile_pull.py --stream contacts

Starts the emulator in its own process, then runs `pull_stream` (full, then a no-change pass) in this process
with timers wrapped around its parts: HTTP requests (the prefetch thread), shaping batches (the staging thread),
the consumer's wait for staged batches, applying and committing them (DuckDB, main thread), the id
reconciliation, then the asset's epilogue (checks, preview, snapshot publish); and, at the pull's memory peak,
how much each allocator held (DuckDB's bundled jemalloc, glibc's malloc).
Nothing of the project is changed: the timers wrap module attributes for this process only.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from emulator_process import EmulatorProcess, Sizes  # noqa: E402

TIMES: dict[str, float] = defaultdict(float)
COUNTS: dict[str, int] = defaultdict(int)
_LOCK = threading.Lock()


def _rss_mb() -> tuple[float, float]:
    current = peak = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            current = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return round(current, 1), round(peak, 1)


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")
    ]


def _allocators_mb() -> dict[str, float]:
    """Where the process's anonymous memory is: DuckDB's own allocator (a jemalloc built into its library, which
    keeps freed pages for ~1 s) and glibc's malloc (Python objects, page bodies, and the Arrow buffers DuckDB
    exports, which it allocates with plain malloc). glibc's figures cover its main heap and its mmapped chunks."""
    import duckdb

    out: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            out["anonymous"] = round(int(line.split()[1]) / 1024, 1)
    mallctl = ctypes.CDLL(duckdb._duckdb.__file__).duckdb_je_mallctl  # type: ignore[attr-defined]
    size = ctypes.c_size_t(8)
    epoch = ctypes.c_uint64(1)
    mallctl(b"epoch", ctypes.byref(epoch), ctypes.byref(size), ctypes.byref(epoch), ctypes.c_size_t(8))
    for stat in ("allocated", "resident"):
        value, size = ctypes.c_size_t(0), ctypes.c_size_t(8)
        mallctl(f"stats.{stat}".encode(), ctypes.byref(value), ctypes.byref(size), None, ctypes.c_size_t(0))
        out[f"duckdb_jemalloc_{stat}"] = round(value.value / 2**20, 1)
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    out["glibc_in_use"] = round(info.uordblks / 2**20, 1)
    out["glibc_free_kept"] = round(info.fordblks / 2**20, 1)
    out["glibc_mmapped"] = round(info.hblkhd / 2**20, 1)
    return out


class PeakSampler:
    """Samples the allocators every 10 ms and keeps the sample taken at the highest anonymous memory."""

    def __init__(self) -> None:
        self.peak: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            sample = _allocators_mb()
            if sample.get("anonymous", 0) > self.peak.get("anonymous", 0):
                self.peak = sample

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            with _LOCK:
                TIMES[name] += time.monotonic() - start
                COUNTS[name] += 1

    return wrapper


def timed_iter(name: str, it: Iterator[Any]) -> Iterator[Any]:
    while True:
        start = time.monotonic()
        try:
            item = next(it)
        except StopIteration:
            TIMES[name] += time.monotonic() - start
            return
        TIMES[name] += time.monotonic() - start
        COUNTS[name] += 1
        yield item


def instrument() -> None:
    import wix_pipelines.ingest.pull as pull
    import wix_pipelines.warehouse.deletions as deletions
    import wix_pipelines.warehouse.upserts as upserts
    import wix_pipelines.wix.transport as transport

    transport.Transport.request = timed("http request (prefetch thread)", transport.Transport.request)  # type: ignore[method-assign]
    upserts.StagingArea.stage = timed("stage: shape a batch (DuckDB, shaping thread)", upserts.StagingArea.stage)  # type: ignore[method-assign]
    upserts.RowGroupWriter.write = timed(  # type: ignore[method-assign]
        "apply a batch, commit each whole row group (DuckDB, main thread)", upserts.RowGroupWriter.write
    )
    original_prefetch = pull.prefetch

    def prefetch(items: Any, depth: int) -> Iterator[Any]:
        return timed_iter("a consumer waits (for a page, or a staged batch)", original_prefetch(items, depth))

    pull.prefetch = prefetch  # type: ignore[assignment]
    reconciler = deletions.IdReconciler
    reconciler.add = timed("collect live ids (deletion pass)", reconciler.add)  # type: ignore[method-assign]
    reconciler.finish = timed("mark missing ids deleted (deletion pass)", reconciler.finish)  # type: ignore[method-assign]


def set_duckdb_threads(threads: int | None) -> None:
    """Experiment: `SET threads` on every warehouse connection (what a fix in `open_connection` would do)."""
    import wix_pipelines.warehouse.connection as connection

    original = connection.open_connection

    def open_connection(*args: Any, **kwargs: Any) -> Any:
        con = original(*args, **kwargs)
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        return con

    connection.open_connection = open_connection  # type: ignore[assignment]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stream", default="contacts")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--reviews", type=int, default=0)
    parser.add_argument("--ratings", type=int, default=0)
    parser.add_argument("--review-requests", type=int, default=0)
    parser.add_argument("--records-per-batch", type=int, default=None)
    parser.add_argument("--prefetch-pages", type=int, default=None)
    parser.add_argument("--staged-batches-ahead", type=int, default=None, help="0: shape on the main thread")
    parser.add_argument("--duckdb-threads", type=int, default=None, help="experiment: SET threads")
    parser.add_argument(
        "--duckdb-working-memory-mb", type=int, default=None, help="the pull's DuckDB memory limit, MiB"
    )
    parser.add_argument("--epilogue", action="store_true", help="also time checks, preview and snapshot publish")
    args = parser.parse_args()

    instrument()
    set_duckdb_threads(args.duckdb_threads)
    from wix_pipelines.ingest.pull import PullOptions, pull_stream
    from wix_pipelines.warehouse import Warehouse, publish_snapshot
    from wix_pipelines.warehouse.checks import evaluate, rules_for
    from wix_pipelines.warehouse.summary import live_row_count, preview_markdown
    from wix_pipelines.wix import WixClient

    sizes = Sizes(args.contacts, args.reviews, args.ratings, args.review_requests)
    overrides: dict[str, Any] = {}
    if args.records_per_batch is not None:
        overrides["records_per_batch"] = args.records_per_batch
    if args.prefetch_pages is not None:
        overrides["prefetch_pages"] = args.prefetch_pages
    if args.duckdb_working_memory_mb is not None:
        overrides["duckdb_working_memory_mb"] = args.duckdb_working_memory_mb
    if args.staged_batches_ahead is not None:
        overrides["staged_batches_ahead"] = args.staged_batches_ahead
    options = PullOptions(**overrides)
    out: dict[str, Any] = {"stream": args.stream, "options": str(options)}
    with tempfile.TemporaryDirectory(prefix="wix-profile-") as tmp:
        workdir = Path(tmp)
        with EmulatorProcess(sizes, workdir / "emulator.log") as emulator:
            warehouse = Warehouse(workdir / "warehouse.duckdb")
            for phase in ("full", "no change"):
                TIMES.clear()
                COUNTS.clear()
                Path("/proc/self/clear_refs").write_text("5")  # restart VmHWM: each phase's own peak
                with WixClient.from_api_key(
                    emulator.api_key, site_id=emulator.site_id, base_url=emulator.base_url, rate_limit_per_minute=0
                ) as client:
                    start = time.monotonic()
                    cpu = time.process_time()
                    with PeakSampler() as sampler:
                        pull_report = pull_stream(client, warehouse, args.stream, options, progress=lambda _: None)
                    phase_out: dict[str, Any] = {
                        "pull_s": round(time.monotonic() - start, 2),
                        "pull_cpu_s": round(time.process_time() - cpu, 2),
                        "fetched": pull_report.fetched,
                        "requests": pull_report.requests,
                        "batches": pull_report.batches,
                        "rss_after_pull_mb": _rss_mb(),
                        "memory_at_peak_mb": sampler.peak,
                    }
                if args.epilogue:
                    start = time.monotonic()
                    with warehouse.connect() as con:
                        live_row_count(con, args.stream)
                        preview_markdown(con, args.stream)
                        TIMES["count + preview"] += time.monotonic() - start
                        for rule in rules_for(args.stream):
                            t = time.monotonic()
                            evaluate(con, rule)
                            TIMES[f"check {rule.name}"] += time.monotonic() - t
                    t = time.monotonic()
                    publish_snapshot(warehouse.path, workdir / "analytics.duckdb")
                    TIMES["publish_snapshot"] += time.monotonic() - t
                    phase_out["rss_after_epilogue_mb"] = _rss_mb()
                phase_out["phases_s"] = {k: round(v, 2) for k, v in sorted(TIMES.items(), key=lambda kv: -kv[1])}
                phase_out["calls"] = dict(COUNTS)
                out[phase] = phase_out
                print(f"{phase}: {json.dumps(phase_out, indent=2)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
