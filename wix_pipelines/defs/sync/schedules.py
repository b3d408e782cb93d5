"""The scheduled full reconciliation: catches whatever the webhooks and the change feed missed."""

from __future__ import annotations

import os

import dagster as dg

from .jobs import sync_reconcile_job

sync_reconcile_schedule = dg.ScheduleDefinition(
    name="wix_sync_reconcile_schedule",
    job=sync_reconcile_job,
    cron_schedule=os.environ.get("WIX_SYNC_RECONCILE_CRON", "15 4 * * *"),
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,  # the sync is opt-in: it writes to both systems
    description="Full reconciliation of Wix and the external system (WIX_SYNC_RECONCILE_CRON, default daily).",
)
