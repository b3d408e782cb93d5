"""Schedules: incremental pulls (hourly by default) and a daily reconciliation, both configurable by cron."""

from __future__ import annotations

import os

import dagster as dg

from wix_pipelines.defs.jobs import pull_job, reconcile_job

pull_schedule = dg.ScheduleDefinition(
    name="wix_pull_schedule",
    job=pull_job,
    cron_schedule=os.environ.get("WIX_PULL_CRON", "0 * * * *"),
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Incremental pull of every stream (WIX_PULL_CRON, default hourly).",
)

reconcile_schedule = dg.ScheduleDefinition(
    name="wix_reconcile_schedule",
    job=reconcile_job,
    cron_schedule=os.environ.get("WIX_RECONCILE_CRON", "30 3 * * *"),
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily full reconciliation: updates the API cannot filter on, and deletions (WIX_RECONCILE_CRON).",
)
