"""Benchmark of the derived assets (issue 4) on 1M reviews and 1M ratings from the emulator's seed generators.

    .venv/bin/python bench/derived.py                      # 1M reviews, 1M ratings, 200k contacts
    .venv/bin/python bench/derived.py --reviews 100000 --ratings 100000 --contacts 20000
    .venv/bin/python bench/derived.py --reuse              # keep the loaded file from a previous run

Loading goes through the warehouse's real upsert path (`upsert_batch` with record dicts, 100k per batch: the
same set-based SQL the pull assets run), not a shortcut, so the tables look exactly as after a pull. The file
(~750 MB) lives in bench/.data/ (git-ignored); `--reuse` keeps it between runs (a file of an older schema is
migrated on the first connection, outside the timings).

Then each mart's SQL is timed on its own connection (median of --repeat runs, checkpoint included): every mart
as a full rebuild; `helpfulness_rankings` and `review_media` also as the runs the automation normally makes:
after 1 % of the reviews changed (10k re-loaded with one more helpful vote, untimed, before each run) and with
nothing changed. Then one Dagster materialization of the five marts (one step and one snapshot publish). The
1-minute load average is recorded before every case: the machine is shared. Prints a markdown table and writes
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


def change_reviews(path: Path, share: float = 0.01) -> int:
    """Re-load `share` of the reviews (a different slice each call) with one more helpful vote: a pull's changes."""
    with Warehouse(path).connect() as con:
        total = con.execute("SELECT count(*) FROM main.reviews").fetchall()[0][0]
        picked = con.execute(
            "SELECT CAST(record AS VARCHAR) FROM main.reviews WHERE deleted_at IS NULL ORDER BY hash(id, ?) LIMIT ?",
            [time.time_ns(), int(total * share)],
        ).fetchall()
        records = []
        for (text,) in picked:
            record = json.loads(text)
            record["foundHelpful"] = record.get("foundHelpful", 0) + 1
            record["helpfulness"] = record.get("helpfulness", 0) + 1
            records.append(record)
        upsert_batch(con, "reviews", records=records)
    return len(records)


def _timed(
    path: Path,
    build: Callable[[duckdb.DuckDBPyConnection], object],
    repeat: int,
    setup: Callable[[Path], object] | None = None,
) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (this process: DuckDB's threads included) of each run.

    CPU seconds are what to compare across runs on a shared machine: wall time grows with other processes'
    load, CPU time much less so.
    """
    times, cpu = [], []
    for _ in range(repeat):
        if setup is not None:
            setup(path)
        with Warehouse(path).connect() as con:
            started, cpu_started = time.perf_counter(), time.process_time()
            build(con)
            # The checkpoint is part of the cost of a write (it would happen at close anyway).
            con.execute("CHECKPOINT")
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
    return times, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reviews", type=int, default=1_000_000)
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    # Git-ignored: the loaded file is ~750 MB. Never commit it.
    parser.add_argument("--db", type=Path, default=ROOT / ".data" / "derived.duckdb")
    parser.add_argument("--reuse", action="store_true", help="reuse --db if it already holds the data")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "derived.json")
    args = parser.parse_args()
    start_load = os.getloadavg()

    args.db.parent.mkdir(parents=True, exist_ok=True)
    load_seconds: dict[str, float] = {}
    if not (args.reuse and args.db.exists()):
        for leftover in (args.db, args.db.with_name(args.db.name + ".wal")):
            leftover.unlink(missing_ok=True)
        print(f"loading {args.contacts} contacts, {args.reviews} reviews, {args.ratings} ratings ...", flush=True)
        load_seconds = load(args.db, args.contacts, args.reviews, args.ratings, args.seed)
    Warehouse(args.db).ensure_schema()  # a reused file of an older schema is migrated here, not in a timing
    counts = Warehouse(args.db).row_counts()
    print(f"rows: {counts}", flush=True)

    export_dir = Path(tempfile.mkdtemp(prefix="derived-exports-"))  # the asset's own exports go to data/exports

    def export(con: duckdb.DuckDBPyConnection) -> object:
        return marts.export_table(con, "subscribed_contacts", export_dir)

    def changed(path: Path) -> object:
        return change_reviews(path)

    def rankings_full(con: duckdb.DuckDBPyConnection) -> object:
        return marts.build_helpfulness_rankings(con, full_refresh=True)

    def media_full(con: duckdb.DuckDBPyConnection) -> object:
        return marts.build_review_media(con, full_refresh=True)

    def alerts(con: duckdb.DuckDBPyConnection) -> object:
        return marts.build_low_rating_alerts(con, dashboard_url="https://x")

    Case = tuple[str, str, Callable[[duckdb.DuckDBPyConnection], object], Callable[[Path], object] | None]
    cases: list[Case] = [
        ("helpfulness_rankings", "full rebuild", rankings_full, None),
        ("helpfulness_rankings", "1 % of reviews changed (a full rebuild)", marts.build_helpfulness_rankings, changed),
        ("helpfulness_rankings", "nothing changed (skipped)", marts.build_helpfulness_rankings, None),
        ("review_media", "full rebuild", media_full, None),
        ("review_media", "incremental, 1 % of reviews changed", marts.build_review_media, changed),
        ("review_media", "incremental, nothing changed", marts.build_review_media, None),
        ("low_rating_alerts", "full rebuild", alerts, None),
        ("subscribed_contacts", "full rebuild", marts.build_subscribed_contacts, None),
        ("subscribed_contacts", "export CSV + Parquet", export, None),
        ("rating_summaries", "full rebuild", marts.build_rating_summaries, None),
    ]  # fmt: skip
    results: list[dict[str, Any]] = []
    for mart, mode, build, setup in cases:
        load_average = os.getloadavg()
        times, cpu = _timed(args.db, build, args.repeat, setup)
        with Warehouse(args.db).connect(read_only=True) as con:
            rows = con.execute(f"SELECT count(*) FROM {mart}").fetchall()[0][0]
        results.append(
            {
                "mart": mart,
                "mode": mode,
                "rows": rows,
                "median_s": statistics.median(times),
                "runs_s": times,
                "median_cpu_s": statistics.median(cpu),
                "runs_cpu_s": cpu,
                "load_average_before": load_average,
            }
        )
        print(
            f"  {mart} ({mode}): {statistics.median(times):.3f} s, {statistics.median(cpu):.3f} CPU s "
            f"(load {load_average[0]:.2f})",
            flush=True,
        )

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
    dagster_load = os.getloadavg()
    started = time.perf_counter()
    with dg.instance_for_test() as instance:
        outcome = dg.materialize(mart_assets, resources=resources, instance=instance)
    dagster_s = time.perf_counter() - started
    assert outcome.success
    modes = {
        e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata["mode"].value
        for e in outcome.get_asset_materialization_events()
    }

    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "dagster": dg.__version__,
            "load_average_at_start": start_load,
            "load_average_after": os.getloadavg(),
        },
        "rows": counts,
        "load_seconds": load_seconds,
        "marts": results,
        "snapshot_publish_s": snapshot_s,
        "dagster_materialize_all_marts_s": dagster_s,
        "dagster_materialize_modes": modes,
        "dagster_load_average_before": dagster_load,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")

    print()
    loads = " ".join(f"{x:.2f}" for x in start_load)
    print(f"{counts['reviews']:,} reviews, {counts['ratings']:,} ratings, {counts['contacts']:,} contacts; "
          f"{os.cpu_count()} CPUs, load average (1/5/15 min) at start {loads}")  # fmt: skip
    print()
    print("| asset | run | rows | median s | runs s | median CPU s | load before |")
    print("|---|---|---:|---:|---|---:|---:|")
    for r in results:
        runs = ", ".join(f"{t:.2f}" for t in r["runs_s"])
        met = "yes" if r["median_s"] < 2 else "no"
        print(f"| `{r['mart']}` | {r['mode']} | {r['rows']:,} | {r['median_s']:.2f} ({met}) | {runs} | "
              f"{r['median_cpu_s']:.2f} | {r['load_average_before'][0]:.2f} |")  # fmt: skip
    print(f"| snapshot publish (whole warehouse) | | | {snapshot_s:.2f} | | | |")
    shown = ", ".join(f"{k} {v}" for k, v in modes.items())
    print(f"| Dagster: materialize all 5 marts (one step, one snapshot publish; {shown}) | | | {dagster_s:.2f} | | | "
          f"{dagster_load[0]:.2f} |")  # fmt: skip
    if load_seconds:
        print()
        print("load (generate + upsert_batch): " + ", ".join(f"{k} {v:.1f} s" for k, v in load_seconds.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
