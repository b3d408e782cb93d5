"""Secrets reach Dagster as EnvVars and never show up in run logs, run records, or the warehouse files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from wix_pipelines.defs.ingest.assets import pull_assets
from wix_pipelines.defs.resources import WarehouseResource, WixApiResource
from wix_pipelines.emulator.server import RunningEmulator

API_KEY = "wixkey-7f3a9c51-do-not-leak-e2b8"


def test_api_key_never_appears_in_run_events_run_config_output_or_warehouse(
    emulator_factory: Callable[..., RunningEmulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    emulator = emulator_factory(seed=2, contacts=300, reviews=80, ratings=80, review_requests=20, api_key=API_KEY)
    monkeypatch.setenv("WIX_API_KEY", API_KEY)
    resources = {
        "wix": WixApiResource(
            base_url=emulator.base_url,
            api_key=dg.EnvVar("WIX_API_KEY"),
            site_id=emulator.config.site_id,
            rate_limit_per_minute=0,
        ),
        "warehouse": WarehouseResource(
            path=str(tmp_path / "warehouse.duckdb"), snapshot_path=str(tmp_path / "analytics.duckdb")
        ),
    }
    with dg.instance_for_test() as instance:
        result = dg.materialize(pull_assets, resources=resources, instance=instance)
        assert result.success
        records = instance.get_records_for_run(result.run_id).records
        run = instance.get_run_by_id(result.run_id)

    assert records, "the run logged events"
    for record in records:
        assert API_KEY not in repr(record.event_log_entry)
    assert run is not None and API_KEY not in repr(run)
    out, err = capfd.readouterr()
    assert API_KEY not in out + err
    # The files, their WALs, and whatever DuckDB spilled next to them (`warehouse.duckdb.tmp/`).
    for database in tmp_path.glob("*.duckdb*"):
        for path in [database] if database.is_file() else [p for p in database.rglob("*") if p.is_file()]:
            assert API_KEY.encode() not in path.read_bytes(), path.name
