"""Dagster objects of the two-way sync. The lead wires these lists into ``wix_pipelines/definitions.py``."""

import dagster as dg

from .jobs import external_to_wix_job, sync_reconcile_job, wix_to_external_job
from .resources import ExternalSystemResource, SyncSettingsResource, external_from_env, sync_settings_from_env
from .schedules import sync_reconcile_schedule
from .sensors import external_change_feed_sensor, wix_webhook_inbox_sensor

# The sync keeps its state in tables (sync_map, sync_diffs...) written by ops, not assets: its runs are
# event-driven pushes, not materialisations of a data product.
sync_assets: list[dg.AssetsDefinition] = []
sync_jobs = [wix_to_external_job, external_to_wix_job, sync_reconcile_job]
sync_sensors = [wix_webhook_inbox_sensor, external_change_feed_sensor]
sync_schedules = [sync_reconcile_schedule]
sync_resources = {"external": external_from_env(), "sync_settings": sync_settings_from_env()}

__all__ = [
    "ExternalSystemResource",
    "SyncSettingsResource",
    "external_change_feed_sensor",
    "external_to_wix_job",
    "sync_assets",
    "sync_jobs",
    "sync_reconcile_job",
    "sync_reconcile_schedule",
    "sync_resources",
    "sync_schedules",
    "sync_sensors",
    "wix_to_external_job",
    "wix_webhook_inbox_sensor",
]
