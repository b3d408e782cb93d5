"""Upsert throughput on generated contacts: `python -m wix_pipelines_tests.warehouse.bench_upsert [N]`.

Pages are generated (and, for the dicts variant, parsed) before the clock starts: this measures the warehouse
only. Each variant loads N contacts into a fresh file, then re-runs the same pages (no change).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from wix_pipelines.warehouse import Warehouse, publish_snapshot, upsert_batch

from .fakes import contact_pages


def _run(label: str, n: int, load: Callable[[Warehouse], None], warehouse: Warehouse) -> None:
    for phase in ("full load", "no-change re-run"):
        started = time.perf_counter()
        load(warehouse)
        seconds = time.perf_counter() - started
        print(f"{label:<44} {phase:<17} {seconds:6.2f} s  {n / seconds:>9,.0f} records/s", flush=True)


def main(n: int = 100_000) -> None:
    pages = list(contact_pages(n))
    parsed = [orjson.loads(p)["contacts"] for p in pages]
    mb = sum(map(len, pages)) / 1e6
    print(f"{n:,} contacts, {len(pages)} pages, {mb:.0f} MB of JSON ({mb * 1e6 / n:.0f} B/record)")

    def held(per_batch: int, dicts: bool = False) -> Callable[[Warehouse], None]:
        def load(warehouse: Warehouse) -> None:
            with warehouse.connect() as con:
                for i in range(0, len(pages), per_batch):
                    if dicts:
                        records = [r for page in parsed[i : i + per_batch] for r in page]
                        upsert_batch(con, "contacts", records=records, watermark=str(i))
                    else:
                        upsert_batch(con, "contacts", pages[i : i + per_batch], watermark=str(i))

        return load

    def per_call(per_batch: int) -> Callable[[Warehouse], None]:
        def load(warehouse: Warehouse) -> None:
            for i in range(0, len(pages), per_batch):
                warehouse.upsert_batch("contacts", pages[i : i + per_batch], watermark=str(i))

        return load

    variants = [
        ("raw pages, 10 pages/txn, one connection", held(10)),
        ("raw pages, 1 page/txn, one connection", held(1)),
        ("record dicts, 10 pages/txn, one connection", held(10, dicts=True)),
        ("raw pages, 10 pages/txn, connection per batch", per_call(10)),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for k, (label, load) in enumerate(variants):
            warehouse = Warehouse(Path(tmp) / f"w{k}.duckdb")
            _run(label, n, load, warehouse)
        started = time.perf_counter()
        result = publish_snapshot(Path(tmp) / "w0.duckdb", Path(tmp) / "analytics.duckdb")
        print(f"publish_snapshot: {time.perf_counter() - started:.2f} s, {result.bytes / 1e6:.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
