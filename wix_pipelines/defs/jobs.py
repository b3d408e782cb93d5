"""Jobs: the main pull, the reconciliation pull, and the partitioned history job (in ingest/history.py)."""

from __future__ import annotations

import dagster as dg

from wix_pipelines.defs.ingest.assets import RAW_GROUP
from wix_pipelines.ingest.streams import STREAMS

MAIN_JOB_NAME = "wix_pull"
RECONCILE_JOB_NAME = "wix_reconcile"

pull_job = dg.define_asset_job(
    MAIN_JOB_NAME,
    selection=dg.AssetSelection.groups(RAW_GROUP),
    description="Incremental pull of contacts, reviews, ratings and review requests into the warehouse.",
)

reconcile_job = dg.define_asset_job(
    RECONCILE_JOB_NAME,
    selection=dg.AssetSelection.groups(RAW_GROUP),
    description="Full re-read of every stream: catches changes the API cannot filter on and marks deletions.",
    config={"ops": {name: {"config": {"reconcile": True}} for name in STREAMS}},
)
