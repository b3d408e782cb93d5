"""`make bench`: ingestion speed, memory and incremental cost, beside a raw fetch and dlt, in one run.

    .venv/bin/python bench/run.py                      # 100k contacts, 200k reviews, 200k ratings
    .venv/bin/python bench/run.py --large              # 1M contacts
    .venv/bin/python bench/run.py --skip-dlt --out bench/results/quick

Starts the emulator in its own process, then runs each stage in its own child process (peak RSS is that
child's, from `wait4`) one after the other, and writes `<out>.md` and `<out>.json`. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import report  # noqa: E402
from changes import apply_changes  # noqa: E402
from emulator_process import EmulatorProcess, Sizes, requests_delta  # noqa: E402

STREAMS = ["contacts", "reviews", "ratings", "review_requests"]
UPDATED_SETTLE_S = 6.0  # more than the pulls' default updated_lookback_seconds (5)
STAGE_TIMEOUT_S = 3600.0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--reviews", type=int, default=200_000)
    parser.add_argument("--ratings", type=int, default=200_000)
    parser.add_argument("--review-requests", type=int, default=50_000)
    parser.add_argument("--large", action="store_true", help="1M contacts (reviews and ratings as given)")
    parser.add_argument("--skip-dlt", action="store_true", help="leave out the dlt stage")
    parser.add_argument("--out", type=Path, default=None, help="results path without suffix (default by size)")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=BENCH_DIR / "results" / "100k.json",
        help="the 100k result the --large peak RSS is compared with",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (warehouses, stage logs)")
    parser.add_argument(
        "--render",
        type=Path,
        default=None,
        help="re-render an existing result JSON (e.g. once the 100k baseline exists) instead of running",
    )
    args = parser.parse_args(argv)
    if args.large:
        args.contacts = 1_000_000
    if args.out is None:
        size = f"{args.contacts // 1_000_000}m" if args.contacts % 1_000_000 == 0 else f"{args.contacts // 1000}k"
        args.out = BENCH_DIR / "results" / size
    return args


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path, emulator: EmulatorProcess) -> None:
        self.args = args
        self.workdir = workdir
        self.emulator = emulator
        self.stages: dict[str, dict[str, Any]] = {}
        self.common = {"base_url": emulator.base_url, "api_key": emulator.api_key, "site_id": emulator.site_id}
        self.warehouse = workdir / "warehouse.duckdb"

    def run_stage(self, name: str, stage: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run one stage in a child process; return its own result plus process and server-side figures."""
        params_path = self.workdir / f"{name}.params.json"
        out_path = self.workdir / f"{name}.out.json"
        log_path = self.workdir / f"{name}.log"
        params_path.write_text(json.dumps({**self.common, **params}))
        print(f"[bench] {name}: running (load {_load()})", flush=True)
        load_before = _load()
        stats_before = self.emulator.stats()
        started = time.monotonic()
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, str(BENCH_DIR / "stages.py"), stage, str(params_path), str(out_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        watchdog = threading.Timer(STAGE_TIMEOUT_S, proc.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage: its CPU and peak RSS
        finally:
            watchdog.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        stats_after = self.emulator.stats()
        entry: dict[str, Any] = {
            "stage": stage,
            "wall_s": round(wall, 3),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "requests": requests_delta(stats_before, stats_after),
            "load_before": load_before,
            "load_after": _load(),
            "exit_code": proc.returncode,
        }
        if proc.returncode != 0 or not out_path.exists():
            tail = log_path.read_text(errors="replace").strip().splitlines()[-15:]
            entry["error"] = f"exit code {proc.returncode}; see {log_path.name}"
            entry["log_tail"] = tail
            print(f"[bench] {name}: FAILED ({entry['error']})\n  " + "\n  ".join(tail), flush=True)
        else:
            entry["result"] = json.loads(out_path.read_text())
            print(
                f"[bench] {name}: {wall:.1f} s wall, {entry['cpu_s']:.1f} s CPU, {entry['peak_rss_mb']:.0f} MB peak, "
                f"{entry['requests']['total']} requests",
                flush=True,
            )
        self.stages[name] = entry
        return entry

    def ours(self, name: str) -> dict[str, Any]:
        return self.run_stage(
            name,
            "ours",
            {"streams": STREAMS, "warehouse": str(self.warehouse), "snapshot": str(self.workdir / "analytics.duckdb")},
        )

    def run(self) -> dict[str, Any]:
        self.run_stage("raw", "raw", {"streams": STREAMS})
        self.ours("full")
        self.ours("nochange_full")
        if not self.args.skip_dlt:
            self.run_stage(
                "dlt",
                "dlt",
                {"dlt_dir": str(self.workdir / "dlt"), "dlt_database": str(self.workdir / "dlt.duckdb")},
            )
        changes: dict[str, Any] | None = None
        if "result" in self.stages["full"]:
            print(f"[bench] applying 1 % new records and 1 % updated contacts (load {_load()})", flush=True)
            started = time.monotonic()
            changes = apply_changes(self.emulator, self.warehouse, STREAMS)
            changes["seconds"] = round(time.monotonic() - started, 1)
            # The updatedDate bound of the run after the incremental is the incremental's start minus 5 s
            # (`updated_lookback_seconds`): updates made less than 5 s before a pass starts are read by that pass
            # *and* the next, on purpose (clock skew). Waiting keeps the no-change stage about steady state rather
            # than about how fast this machine spawned the next stage.
            time.sleep(UPDATED_SETTLE_S)
            self.ours("incremental")
            self.ours("nochange")
        if (REPO / "wix_pipelines" / "defs" / "marts").is_dir():
            self.run_stage(
                "derived",
                "derived",
                {"warehouse": str(self.warehouse), "snapshot": str(self.workdir / "analytics.duckdb")},
            )
        return {"changes": changes}


# --- rows and targets -----------------------------------------------------------------------------------------


def _ours_totals(entry: dict[str, Any]) -> dict[str, Any]:
    streams = entry["result"]["streams"]
    return {
        "records": sum(s["fetched"] or 0 for s in streams.values()),
        "work_s": round(sum(s["seconds_in_asset"] or 0 for s in streams.values()), 3),
    }


def build_rows(stages: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def failed(n: str, label: str, name: str) -> bool:
        entry = stages.get(name)
        if entry is None:
            return True
        if "error" in entry:
            rows.append({"n": n, "label": label, "error": entry["error"]})
            return True
        return False

    def process(entry: dict[str, Any]) -> dict[str, Any]:
        return {"wall_s": entry["wall_s"], "cpu_s": entry["cpu_s"], "peak_rss_mb": entry["peak_rss_mb"]}

    raw_contacts_rate = raw_all_rate = dlt_rate = None
    if not failed("1", "raw httpx · contacts", "raw"):
        entry = stages["raw"]
        streams = entry["result"]["streams"]
        c = streams["contacts"]
        raw_contacts_rate = report.rate(c["records"], c["seconds"])
        rows.append(
            {
                "n": "1",
                "label": "raw httpx · contacts (offset paging)",
                "records": c["records"],
                "cpu_s": c["cpu_seconds"],
                "work_s": c["seconds"],
                "records_per_s": raw_contacts_rate,
                "requests": entry["requests"]["contacts"],
                "x_raw": 1.0,
            }
        )
        records = sum(s["records"] for s in streams.values())
        work = round(sum(s["seconds"] for s in streams.values()), 3)
        raw_all_rate = report.rate(records, work)
        rows.append(
            {
                "n": "1",
                "label": "raw httpx · all four streams",
                "records": records,
                **process(entry),
                "work_s": work,
                "records_per_s": raw_all_rate,
                "requests": entry["requests"]["total"],
                "x_raw": 1.0,
            }
        )
    if "dlt" in stages and "error" not in stages["dlt"]:
        d = stages["dlt"]["result"]["streams"]["contacts"]
        dlt_rate = report.rate(d["records"], d["seconds"])

    def x(value: float | None, base: float | None) -> float | None:
        return round(value / base, 2) if value and base else None

    if not failed("2", "ours full load", "full"):
        entry = stages["full"]
        c = entry["result"]["streams"]["contacts"]
        rps = report.rate(c["fetched"], c["seconds_in_asset"])
        rows.append(
            {
                "n": "2",
                "label": "ours full · contacts (in asset)",
                "records": c["fetched"],
                "work_s": c["seconds_in_asset"],
                "records_per_s": rps,
                "requests": entry["requests"]["contacts"],
                "x_raw": x(rps, raw_contacts_rate),
                "x_dlt": x(rps, dlt_rate),
            }
        )
        totals = _ours_totals(entry)
        rps_all = report.rate(totals["records"], totals["work_s"])
        rows.append(
            {
                "n": "2",
                "label": "ours full · all four streams (wall incl. Dagster start)",
                **totals,
                **process(entry),
                "records_per_s": rps_all,
                "requests": entry["requests"]["total"],
                "x_raw": x(rps_all, raw_all_rate),
            }
        )
    if "dlt" in stages and not failed("3", "dlt rest_api · contacts", "dlt"):
        entry = stages["dlt"]
        d = entry["result"]["streams"]["contacts"]
        rows.append(
            {
                "n": "3",
                "label": "dlt rest_api · contacts (parquet, merge)",
                "records": d["records"],
                **process(entry),
                "work_s": d["seconds"],
                "records_per_s": dlt_rate,
                "requests": entry["requests"]["contacts"],
                "x_raw": x(dlt_rate, raw_contacts_rate),
                "x_dlt": 1.0,
            }
        )
    for n, name, label in (
        ("4", "incremental", "ours incremental · 1 % new + 1 % updated contacts"),
        ("5", "nochange", "ours no change (after the incremental)"),
        ("5b", "nochange_full", "ours no change (right after the full load)"),
    ):
        if name not in stages or failed(n, label, name):
            continue
        entry = stages[name]
        totals = _ours_totals(entry)
        rows.append(
            {
                "n": n,
                "label": label,
                **totals,
                **process(entry),
                "records_per_s": report.rate(totals["records"], totals["work_s"]),
                "requests": entry["requests"]["total"],
            }
        )
    if "derived" in stages:
        if not failed("6", "derived assets", "derived"):
            entry = stages["derived"]
            result = entry["result"]
            rows.append(
                {
                    "n": "6",
                    "label": "derived assets · all marts (work s = their SQL)",
                    "records": result.get("records"),
                    **process(entry),
                    "work_s": result.get("work_s", result.get("run", {}).get("seconds")),
                    "records_per_s": report.rate(result.get("records"), result.get("work_s")),
                    "requests": entry["requests"]["total"],
                }
            )
    else:
        rows.append(
            {
                "n": "6",
                "label": "derived assets",
                "todo": "no derived assets yet (wix_pipelines/defs/marts/ does not exist)",
            }
        )
    return rows


def per_stream_requests(
    stages: dict[str, dict[str, Any]], changes: dict[str, Any] | None, sizes: dict[str, int]
) -> dict[str, Any]:
    table: dict[str, dict[str, Any]] = {}
    for stream in STREAMS:
        # N is what the emulator holds: `fetched` also counts the keyset's anchor records, read twice by design.
        s: dict[str, Any] = {"records": sizes[stream]}
        if "result" in stages.get("raw", {}):
            s["raw"] = stages["raw"]["requests"][stream]
        if "result" in stages.get("full", {}):
            s["fetched"] = stages["full"]["result"]["streams"][stream]["fetched"]
            s["full"] = stages["full"]["requests"][stream]
            s["full_target"] = report.full_target(sizes[stream], stream)
        if changes is not None:
            changed = changes["new"][stream]["count"] + changes["updated"].get(stream, {}).get("count", 0)
            s["changed"] = changed
            s["incremental_target"] = report.incremental_target(changed, stream)
        for name, key in (("incremental", "incremental"), ("nochange", "nochange"), ("nochange_full", "nochange_full")):
            if "result" in stages.get(name, {}):
                s[key] = stages[name]["requests"][stream]
        table[stream] = s
    return table


def check_targets(
    stages: dict[str, dict[str, Any]],
    rows: list[dict[str, Any]],
    requests: dict[str, Any],
    changes: dict[str, Any] | None,
    baseline: dict[str, Any] | None,
    contacts: int,
) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []
    by_label = {row["label"]: row for row in rows}
    ours = by_label.get("ours full · contacts (in asset)")
    if ours:
        x_raw, x_dlt = ours.get("x_raw"), ours.get("x_dlt")
        targets.append(
            {
                "target": "contacts full load ≥ 0.6x raw records/s",
                "measured": f"{x_raw}x ({ours['records_per_s']:,.0f} records/s)" if x_raw else "—",
                "met": None if x_raw is None else x_raw >= 0.6,
            }
        )
        targets.append(
            {
                "target": "contacts full load ≥ 3x dlt records/s",
                "measured": f"{x_dlt}x" if x_dlt else "dlt not run",
                "met": None if x_dlt is None else x_dlt >= 3,
            }
        )
    for key, target_key, text in (
        ("full", "full_target", "full load requests ≤ ceil(N/page) + 2 per stream"),
        ("incremental", "incremental_target", "incremental requests ≤ pages of new/changed + 2 per stream"),
        ("nochange", None, "no-change run ≤ 1 request per stream (after the incremental)"),
        ("nochange_full", None, "no-change run ≤ 1 request per stream (right after the full load)"),
    ):
        measured = {s: r.get(key) for s, r in requests.items()}
        if any(v is None for v in measured.values()):
            continue
        limits = {s: (r[target_key] if target_key else 1) for s, r in requests.items()}
        targets.append(
            {
                "target": text,
                "measured": ", ".join(f"{s} {measured[s]}/{limits[s]}" for s in requests),
                "met": all(measured[s] <= limits[s] for s in requests),
            }
        )
    full = stages.get("full", {})
    if "result" in full:
        targets.append(
            {
                "target": "peak RSS of the full load ≤ 300 MB",
                "measured": f"{full['peak_rss_mb']:.0f} MB",
                "met": full["peak_rss_mb"] <= 300,
            }
        )
        if contacts >= 1_000_000:
            base = (baseline or {}).get("stages", {}).get("full", {}).get("peak_rss_mb")
            targets.append(
                {
                    "target": "peak RSS at 1M contacts ≤ 1.2x the 100k figure",
                    "measured": (
                        f"{full['peak_rss_mb']:.0f} MB vs {base:.0f} MB = {full['peak_rss_mb'] / base:.2f}x"
                        if base
                        else "no 100k baseline found"
                    ),
                    "met": None if not base else full["peak_rss_mb"] <= 1.2 * base,
                }
            )
        incremental = stages.get("incremental", {})
        if "result" in incremental:
            full_s = _ours_totals(full)["work_s"]
            incr_s = _ours_totals(incremental)["work_s"]
            c_full = full["result"]["streams"]["contacts"]["seconds_in_asset"]
            c_incr = incremental["result"]["streams"]["contacts"]["seconds_in_asset"]
            targets.append(
                {
                    "target": "incremental 1 % in-asset time ≤ 5 % of the full load's",
                    "measured": (
                        f"{incr_s:.2f} s / {full_s:.2f} s = {100 * incr_s / full_s:.1f} % "
                        f"(contacts {c_incr:.2f} s / {c_full:.2f} s = {100 * c_incr / c_full:.1f} %)"
                    ),
                    "met": incr_s <= 0.05 * full_s,
                }
            )
            expected_new = changes["new"]["contacts"]["count"] if changes else None
            expected_upd = changes["updated"].get("contacts", {}).get("count") if changes else None
            got = incremental["result"]["streams"]["contacts"]
            targets.append(
                {
                    "target": "incremental picks up every new and updated contact (correctness)",
                    "measured": f"inserted {got['inserted']}/{expected_new}, updated {got['updated']}/{expected_upd}",
                    "met": got["inserted"] == expected_new and got["updated"] == expected_upd,
                }
            )
    return targets


def render(doc: dict[str, Any]) -> str:
    meta = doc["meta"]
    sizes = ", ".join(f"{k} {v:,}" for k, v in meta["sizes"].items())
    loads = "; ".join(f"{name} {entry['load_before']}" for name, entry in doc["stages"].items())
    parts = [
        f"# Bench {meta['name']}: {sizes}",
        "",
        f"{meta['finished_at']} · {meta['machine']} · emulator seeded in {meta['emulator_seed_s']:.0f} s "
        f"(its own process) · load average (1/5/15 min) at start {meta['load_at_start']}, before each stage: "
        f"{loads}",
        "",
        report.stage_table(doc["rows"]),
        "",
        "wall s, CPU s and peak RSS are the stage's whole child process (interpreter start, imports, Dagster); "
        "work s is the time inside the work (raw: the paging loop; ours: the assets' `seconds_in_asset`, the "
        "pull itself; dlt: `pipeline.run`), and records/s = records / work s. Requests are counted by the "
        "emulator. Ratios compare records/s with the raw fetch and with dlt on the same rows.",
        "",
        "## Requests per stream (server-counted)",
        "",
        report.requests_table(doc["requests_per_stream"]),
        "",
        "## Targets",
        "",
        report.targets_table(doc["targets"]),
    ]
    if doc.get("notes"):
        parts += ["", "## Notes", "", *[f"- {note}" for note in doc["notes"]]]
    return "\n".join(parts) + "\n"


def finish(doc: dict[str, Any], out: Path, baseline_path: Path) -> None:
    """Rows, targets and markdown from the stages' raw figures; write `<out>.json` and `<out>.md`."""
    baseline = json.loads(baseline_path.read_text()) if baseline_path.exists() else None
    stages, changes = doc["stages"], doc["changes"]
    doc["rows"] = build_rows(stages)
    doc["requests_per_stream"] = per_stream_requests(stages, changes, doc["meta"]["sizes"])
    doc["targets"] = check_targets(
        stages, doc["rows"], doc["requests_per_stream"], changes, baseline, doc["meta"]["sizes"]["contacts"]
    )
    markdown = render(doc)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(markdown)
    print("\n" + markdown)
    print(f"[bench] wrote {out.with_suffix('.md')} and {out.with_suffix('.json')}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.render is not None:
        finish(json.loads(args.render.read_text()), args.render.with_suffix(""), args.baseline)
        return 0
    sizes = Sizes(args.contacts, args.reviews, args.ratings, args.review_requests)
    workdir = Path(tempfile.mkdtemp(prefix="wix-bench-"))
    load_at_start = _load()
    print(f"[bench] {sizes.as_dict()} · work dir {workdir} · load {load_at_start}", flush=True)
    try:
        with EmulatorProcess(sizes, workdir / "emulator.log") as emulator:
            print(f"[bench] emulator {emulator.base_url} ready in {emulator.seed_seconds:.1f} s", flush=True)
            bench = Bench(args, workdir, emulator)
            extra = bench.run()
            stages = bench.stages
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    doc: dict[str, Any] = {
        "meta": {
            "name": args.out.name,
            "sizes": sizes.as_dict(),
            "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "emulator_seed_s": round(emulator.seed_seconds, 1),
            "load_at_start": load_at_start,
            "load_at_end": _load(),
        },
        "changes": extra["changes"],
        "stages": stages,
    }
    finish(doc, args.out, args.baseline)
    return 0 if all("error" not in entry for entry in stages.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
