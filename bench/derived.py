"""Benchmark of the derived assets (issue 4) on 1M reviews and 1M ratings from the emulator's seed generators.

    .venv/bin/python bench/derived.py                      # 1M reviews, 1M ratings, 200k contacts
    .venv/bin/python bench/derived.py --reviews 100000 --ratings 100000 --contacts 20000
    .venv/bin/python bench/derived.py --reuse              # keep the loaded file from a previous run

Loading goes through the warehouse's real upsert path (`upsert_batch` with record dicts, 100k per batch: the
same set-based SQL the pull assets run), not a shortcut, so the tables look exactly as after a pull. Then each
mart's SQL is timed on its own connection (median of --repeat runs), `review_media` both as a full rebuild and
as the incremental no-change rebuild the automation normally runs, then one full Dagster materialization of
the five marts (one step and one snapshot publish). Prints a markdown table and writes
bench/results/derived.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from wix_pipelines.defs.alerts import AlertsResource
from wix_pipelines.defs.marts import mart_assets
from wix_pipelines.defs.resources import WarehouseResource
from wix_pipelines.emulator import seed
from wix_pipelines.warehouse import Warehouse, marts, publish_snapshot_from, upsert_batch

ROOT = Path(__file__).resolve().parent
BATCH = 100_000


def _batches(records: Iterable[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def load(path: Path, n_contacts: int, n_reviews: int, n_ratings: int, seed_value: int) -> dict[str, float]:
    """Generate with the seed generators and upsert; returns seconds per stream (generation included)."""
    seconds: dict[str, float] = {}
    products = [p["id"] for p in seed.seed_products(seed_value, seed.product_count(n_reviews, n_ratings, 0))]
    started = time.perf_counter()
    contacts = list(seed.iter_seed_contacts(seed_value, n_contacts))
    contact_ids = [c["id"] for c in contacts]
    names = [f"{c['info']['name']['first']} {c['info']['name']['last'][0]}." for c in contacts]
    with Warehouse(path).connect() as con:
        for batch in _batches(contacts, 50_000):
            upsert_batch(con, "contacts", records=batch)
        del contacts
        seconds["contacts"] = time.perf_counter() - started
        started = time.perf_counter()
        reviews = seed.iter_seed_reviews(seed_value, n_reviews, contact_ids, products, names)
        for batch in _batches(reviews):
            upsert_batch(con, "reviews", records=batch)
        seconds["reviews"] = time.perf_counter() - started
        started = time.perf_counter()
        for batch in _batches(seed.iter_seed_ratings(seed_value, n_ratings, contact_ids, products)):
            upsert_batch(con, "ratings", records=batch)
        seconds["ratings"] = time.perf_counter() - started
        con.execute("CHECKPOINT")
    return seconds


def _timed(path: Path, build: Callable[[duckdb.DuckDBPyConnection], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        with Warehouse(path).connect() as con:
            started = time.perf_counter()
            build(con)
            # The checkpoint is part of the cost of a write (it would happen at close anyway).
            con.execute("CHECKPOINT")
            times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reviews", type=int, default=1_000_000)
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    # Under data/ (git-ignored): the loaded file is ~700 MB.
    parser.add_argument("--db", type=Path, default=ROOT.parent / "data" / "bench" / "derived.duckdb")
    parser.add_argument("--reuse", action="store_true", help="reuse --db if it already holds the data")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "derived.json")
    args = parser.parse_args()

    args.db.parent.mkdir(parents=True, exist_ok=True)
    load_seconds: dict[str, float] = {}
    if not (args.reuse and args.db.exists()):
        for leftover in (args.db, args.db.with_name(args.db.name + ".wal")):
            leftover.unlink(missing_ok=True)
        print(f"loading {args.contacts} contacts, {args.reviews} reviews, {args.ratings} ratings ...", flush=True)
        load_seconds = load(args.db, args.contacts, args.reviews, args.ratings, args.seed)
    counts = Warehouse(args.db).row_counts()
    print(f"rows: {counts}", flush=True)

    export_dir = Path(tempfile.mkdtemp(prefix="derived-exports-"))  # the asset's own exports go to data/exports

    def export(con: duckdb.DuckDBPyConnection) -> object:
        return marts.export_table(con, "subscribed_contacts", export_dir)

    cases: list[tuple[str, str, Callable[[duckdb.DuckDBPyConnection], object]]] = [
        ("helpfulness_rankings", "full", marts.build_helpfulness_rankings),
        ("review_media", "full", lambda con: marts.build_review_media(con, full_refresh=True)),
        ("review_media", "incremental, no change", marts.build_review_media),
        ("low_rating_alerts", "full", lambda con: marts.build_low_rating_alerts(con, dashboard_url="https://x")),
        ("subscribed_contacts", "full", marts.build_subscribed_contacts),
        ("subscribed_contacts", "export CSV + Parquet", export),
        ("rating_summaries", "full", marts.build_rating_summaries),
    ]  # fmt: skip
    results: list[dict[str, Any]] = []
    for mart, mode, build in cases:
        times = _timed(args.db, build, args.repeat)
        with Warehouse(args.db).connect(read_only=True) as con:
            rows = con.execute(f"SELECT count(*) FROM {mart}").fetchall()[0][0]
        results.append(
            {"mart": mart, "mode": mode, "rows": rows, "median_s": statistics.median(times), "runs_s": times}
        )
        print(f"  {mart} ({mode}): {statistics.median(times):.3f} s", flush=True)

    with Warehouse(args.db).connect() as con:
        started = time.perf_counter()
        publish_snapshot_from(con, args.db.with_name("derived-snapshot.duckdb"))
        snapshot_s = time.perf_counter() - started

    resources = {
        "warehouse": WarehouseResource(
            path=str(args.db), snapshot_path=str(args.db.with_name("derived-snapshot.duckdb"))
        ),
        "alerts": AlertsResource(site_id="bench-site"),
    }
    started = time.perf_counter()
    with dg.instance_for_test() as instance:
        outcome = dg.materialize(mart_assets, resources=resources, instance=instance)
    dagster_s = time.perf_counter() - started
    assert outcome.success

    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "dagster": dg.__version__,
            "load_average_after": os.getloadavg(),
        },
        "rows": counts,
        "load_seconds": load_seconds,
        "marts": results,
        "snapshot_publish_s": snapshot_s,
        "dagster_materialize_all_marts_s": dagster_s,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")

    print()
    print(f"{counts['reviews']:,} reviews, {counts['ratings']:,} ratings, {counts['contacts']:,} contacts; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print()
    print("| asset | mode | rows | median s | runs s |")
    print("|---|---|---:|---:|---|")
    for r in results:
        runs = ", ".join(f"{t:.2f}" for t in r["runs_s"])
        print(f"| `{r['mart']}` | {r['mode']} | {r['rows']:,} | {r['median_s']:.2f} | {runs} |")
    print(f"| snapshot publish (whole warehouse) | | | {snapshot_s:.2f} | |")
    print(f"| Dagster: materialize all 5 marts (one step, one snapshot publish) | | | {dagster_s:.2f} | |")
    if load_seconds:
        print()
        print("load (generate + upsert_batch): " + ", ".join(f"{k} {v:.1f} s" for k, v in load_seconds.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
