"""The Dagster definitions of wix-pipelines (assembled here; everything lives in `wix_pipelines.defs`)."""

import dagster as dg

from wix_pipelines.defs.alerts import alert_jobs, alert_sensors, alerts_from_env
from wix_pipelines.defs.ingest.assets import pull_assets
from wix_pipelines.defs.ingest.history import history_job
from wix_pipelines.defs.jobs import pull_job, reconcile_job
from wix_pipelines.defs.marts import mart_assets, mart_sensors
from wix_pipelines.defs.resources import warehouse_from_env, wix_api_from_env
from wix_pipelines.defs.schedules import pull_schedule, reconcile_schedule
from wix_pipelines.defs.sync import sync_assets, sync_jobs, sync_resources, sync_schedules, sync_sensors

defs = dg.Definitions(
    assets=[*pull_assets, *mart_assets, *sync_assets],
    jobs=[pull_job, reconcile_job, history_job, *alert_jobs, *sync_jobs],
    schedules=[pull_schedule, reconcile_schedule, *sync_schedules],
    sensors=[*mart_sensors, *alert_sensors, *sync_sensors],
    resources={
        "wix": wix_api_from_env(),
        "warehouse": warehouse_from_env(),
        "alerts": alerts_from_env(),
        **sync_resources,
    },
)
