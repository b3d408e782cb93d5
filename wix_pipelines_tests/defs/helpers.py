"""Shared pieces of the Dagster-level tests: resources pointed at an emulator, runs, and table comparisons."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from wix_pipelines.defs.ingest.assets import pull_assets
from wix_pipelines.defs.resources import WarehouseResource, WixApiResource
from wix_pipelines.emulator.server import RunningEmulator

STREAM_COLLECTIONS = {
    "contacts": "contacts",
    "reviews": "reviews",
    "ratings": "ratings",
    "review_requests": "review_requests",
}


def resources_for(emulator: RunningEmulator, tmp_path: Path, **wix_fields: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "base_url": emulator.base_url,
        "api_key": emulator.config.api_key,
        "site_id": emulator.config.site_id,
        "rate_limit_per_minute": 0,
        "retry_max_attempts": 3,
        "retry_max_wait_s": 5.0,
    }
    fields.update(wix_fields)
    return {
        "wix": WixApiResource(**fields),
        "warehouse": WarehouseResource(
            path=str(tmp_path / "warehouse.duckdb"), snapshot_path=str(tmp_path / "analytics.duckdb")
        ),
    }


def pull(
    resources: dict[str, Any],
    *streams: str,
    reconcile: bool = False,
    records_per_batch: int = 5000,
    raise_on_error: bool = True,
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecuteInProcessResult:
    names = streams or tuple(STREAM_COLLECTIONS)
    run_config = {
        "ops": {name: {"config": {"reconcile": reconcile, "records_per_batch": records_per_batch}} for name in names}
    }
    return dg.materialize(
        pull_assets,
        resources=resources,
        selection=list(names),
        run_config=run_config,
        raise_on_error=raise_on_error,
        instance=instance,
    )


def materialization_metadata(result: dg.ExecuteInProcessResult, stream: str) -> dict[str, Any]:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(stream)]
    metadata = event.step_materialization_data.materialization.metadata
    return {key: value.value for key, value in metadata.items()}


def parse_wire_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def emulator_rows(emulator: RunningEmulator, stream: str) -> dict[str, datetime]:
    """id -> createdDate of every record the emulator holds in a stream's collection."""
    collection = getattr(emulator.state, STREAM_COLLECTIONS[stream])
    return {record["id"]: parse_wire_time(record["createdDate"]) for record in collection.values()}


def warehouse_rows(database: Path, stream: str, *, live: bool = True) -> dict[str, datetime]:
    where = "WHERE deleted_at IS NULL" if live else ""
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute(f"SELECT id, created_date FROM main.{stream} {where}").fetchall()
    return dict(rows)


def table_dump(database: Path, stream: str) -> list[tuple[Any, ...]]:
    """Every column of every row, ordered: equal dumps mean identical tables (load times included)."""
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(
            f"SELECT * EXCLUDE (record), CAST(record AS VARCHAR) FROM main.{stream} ORDER BY id"
        ).fetchall()
