"""`wix-pipelines demo`: the seeded emulator on loopback, the main job against it, and a summary.

The emulator runs as a child process (as a real API would be a separate server), the job runs in this process on
the Dagster instance in DAGSTER_HOME so the run shows up in the UI afterwards, and the emulator is stopped on the
way out whatever happened.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from wix_pipelines.settings import DEFAULT_SNAPSHOT_PATH, DEFAULT_WAREHOUSE_PATH
from wix_pipelines.warehouse.summary import table_counts

# The emulator's built-in credentials (not secrets of any real site).
EMULATOR_API_KEY = "emulator-api-key"
EMULATOR_SITE_ID = "emulator-site"


def add_demo_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the main job against a seeded emulator and print a summary")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--reviews", type=int, default=10000)
    parser.add_argument("--ratings", type=int, default=15000)
    parser.add_argument("--review-requests", type=int, default=2000)
    parser.add_argument("--warehouse", type=Path, default=DEFAULT_WAREHOUSE_PATH)
    parser.add_argument("--snapshot", type=Path, default=DEFAULT_SNAPSHOT_PATH)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def emulator_process(args: argparse.Namespace, ready_timeout_s: float = 120.0) -> Iterator[str]:
    """Start `wix-pipelines emulator` as a child process; yield its base URL once it answers."""
    port = _free_port()
    command = [
        sys.executable, "-m", "wix_pipelines.cli", "emulator", "--port", str(port), "--seed", str(args.seed),
        "--contacts", str(args.contacts), "--reviews", str(args.reviews), "--ratings", str(args.ratings),
        "--review-requests", str(args.review_requests),
    ]  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    # The emulator's own output goes to a log file, read when something goes wrong, so the demo's summary stays
    # the last thing on the screen.
    log_path = Path("data/demo-emulator.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = log_path.open("wb")
    process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + ready_timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the emulator exited with code {process.returncode}; see {log_path}")
            try:
                httpx.get(f"{base_url}/_emulator/stats", timeout=1.0).raise_for_status()
                break
            except httpx.HTTPError as exc:
                if time.monotonic() > deadline:
                    message = (
                        f"the emulator did not answer on {base_url} within {ready_timeout_s:.0f} s; see {log_path}"
                    )
                    raise RuntimeError(message) from exc
                time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log_file.close()


def run_demo_command(args: argparse.Namespace) -> int:
    started = time.monotonic()
    print(f"Starting the Wix emulator (seed {args.seed}, {args.contacts} contacts, {args.reviews} reviews, "
          f"{args.ratings} ratings, {args.review_requests} review requests)...", flush=True)  # fmt: skip
    with emulator_process(args) as base_url:
        os.environ.update(
            WIX_API_BASE_URL=base_url,
            WIX_API_KEY=EMULATOR_API_KEY,
            WIX_SITE_ID=EMULATOR_SITE_ID,
            WIX_WAREHOUSE_PATH=str(args.warehouse),
            WIX_SNAPSHOT_PATH=str(args.snapshot),
            # Wix allows 200 requests a minute per site; the local emulator has no such limit.
            WIX_RATE_LIMIT_PER_MINUTE="0",
        )
        for oauth_variable in ("WIX_APP_ID", "WIX_APP_SECRET", "WIX_INSTANCE_ID"):
            os.environ.pop(oauth_variable, None)
        print(f"Emulator ready at {base_url}; running the main job...", flush=True)

        import dagster as dg

        from wix_pipelines.definitions import defs
        from wix_pipelines.defs.jobs import MAIN_JOB_NAME
        from wix_pipelines.defs.marts import mart_assets

        instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
        result = defs.resolve_job_def(MAIN_JOB_NAME).execute_in_process(instance=instance, raise_on_error=False)
        if not result.success:
            print(f"The job {MAIN_JOB_NAME} failed (run {result.run_id}); see the log above.", file=sys.stderr)
            return 1
        # In production the marts follow the pull by declarative automation (a daemon); here, build them now.
        print("Pulled; building the derived tables...", flush=True)
        marts = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance,
            asset_selection=[key for asset in mart_assets for key in asset.keys],
            raise_on_error=False,
        )
        if not marts.success:
            print(f"Building the derived tables failed (run {marts.run_id}); see the log above.", file=sys.stderr)
            return 1

    counts = table_counts(args.warehouse)
    print()
    print(f"Job {MAIN_JOB_NAME} succeeded in {time.monotonic() - started:.1f} s (run {result.run_id}).")
    print("Rows per table:")
    for name, count in counts.items():
        print(f"  {name:<28} {count:>10,}")
    if not counts:
        print("  (no tables yet)")
    print(f"Warehouse:         {args.warehouse.resolve()}")
    print(f"Analyst snapshot:  {args.snapshot.resolve()}  (duckdb {args.snapshot} -readonly)")
    print("Dagster UI:        `make emulator` in one terminal, `make ui` in another, then http://127.0.0.1:3000")
    return 0
