"""The sync's Dagster objects load beside the project's definitions, with no secret set."""

from __future__ import annotations

import dagster as dg
import pytest

from wix_pipelines.defs.sync import sync_assets, sync_jobs, sync_resources, sync_schedules, sync_sensors


def test_sync_definitions_load_with_the_projects_definitions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXTERNAL_API_TOKEN", raising=False)
    from wix_pipelines.definitions import defs

    merged = dg.Definitions.merge(
        defs,
        dg.Definitions(
            assets=sync_assets, jobs=sync_jobs, sensors=sync_sensors, schedules=sync_schedules, resources=sync_resources
        ),
    )
    dg.Definitions.validate_loadable(merged)
    repository = merged.get_repository_def()
    assert {"wix_to_external_job", "external_to_wix_job", "sync_reconcile_job"} <= set(repository.job_names)
    assert {"wix_webhook_inbox_sensor", "external_change_feed_sensor"} <= {s.name for s in repository.sensor_defs}
    # The token reaches the resource as the variable's name, resolved only when a run starts.
    assert isinstance(sync_resources["external"].token, dg.EnvVar)


def test_every_push_op_is_in_the_warehouse_pool() -> None:
    from wix_pipelines.defs.ingest.assets import WAREHOUSE_POOL

    for job in sync_jobs:
        for node in job.graph.node_defs:
            assert node.pool == WAREHOUSE_POOL, f"{job.name}/{node.name} writes DuckDB outside the pool"
