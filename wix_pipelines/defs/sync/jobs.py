"""The push jobs: Wix → external (from the webhook inbox), external → Wix (from the change feed), and the full
reconciliation (scheduled; also the initial setup with a system of record). Each is one op in the warehouse
pool, because each writes the sync tables and marks the warehouse."""

# No `from __future__ import annotations`: Dagster reads the config and resource annotations at definition time.

from collections.abc import Callable
from typing import Any

import dagster as dg
from pydantic import Field

from wix_pipelines.defs.ingest.assets import WAREHOUSE_POOL
from wix_pipelines.defs.resources import WarehouseResource, WixApiResource
from wix_pipelines.external.contract import Change
from wix_pipelines.sync.engine import SyncEngine, SyncReport
from wix_pipelines.sync.setup import diff_markdown, initial_setup
from wix_pipelines.webhooks.inbox import WebhookInbox

from .resources import ExternalSystemResource, SyncSettingsResource

SYNC_TAGS = {"domain": "wix_sync"}
# Run retries (the daemon's run-retry feature): a failed push runs again with the same range. Safe because
# every push is idempotent (idempotency keys, ledger intents, baselines committed per record).
JOB_TAGS = {**SYNC_TAGS, "dagster/max_retries": "3", "dagster/retry_strategy": "ALL_STEPS"}


class WixChangesConfig(dg.Config):
    after_seq: int = Field(description="Inbox events with seq > after_seq ...")
    up_to_seq: int = Field(description="... and seq <= up_to_seq.")
    dry_run: bool = False


class ExternalChangesConfig(dg.Config):
    changes: list[str] = Field(description='"kind:id" of every changed external record in the range.')
    cursor_from: str = ""
    cursor_to: str = ""
    dry_run: bool = False


class ReconcileConfig(dg.Config):
    dry_run: bool = False
    wix_source: str = Field(
        default="warehouse",
        description='"warehouse": compare the warehouse (kept current by the ingestion) with the external system '
        'and read Wix live only where they differ; "api": list the whole site through the API.',
    )
    setup_system_of_record: str = Field(
        default="",
        description='Initial setup with this system of record ("wix" or "external"): the other side\'s unmatched '
        "records are deleted (list them first with dry_run). Empty: an ordinary full reconciliation.",
    )


def _run_engine(
    context: dg.OpExecutionContext,
    wix: WixApiResource,
    warehouse: WarehouseResource,
    external: ExternalSystemResource,
    sync_settings: SyncSettingsResource,
    dry_run: bool,
    work: Callable[[SyncEngine], SyncReport],
) -> dg.Output[dict[str, Any]]:
    config = sync_settings.load(wix_app_id=wix.app_id)
    dry = dry_run or sync_settings.dry_run
    with wix.get_client() as client, external.get_adapter() as adapter, warehouse.get().connect() as con:
        engine = SyncEngine(client, adapter, con, config, run_id=context.run_id, dry_run=dry, logger=context.log)
        report = work(engine)
        engine.finish()
        markdown = diff_markdown(con, context.run_id)
    if not dry and report.warehouse_rows_changed:
        # Analysts see Wix tables only; a run that changed none of their rows (an echo) republishes nothing.
        warehouse.publish_snapshot()
    metadata = {**report.as_metadata(), "dry_run": dry, "diff": dg.MetadataValue.md(markdown)}
    metadata["counts"] = dg.MetadataValue.json(metadata["counts"])
    metadata["skipped_reasons"] = dg.MetadataValue.json([s["reason"] for s in report.skipped][:50])
    return dg.Output(report.as_metadata(), metadata=metadata)


@dg.op(
    pool=WAREHOUSE_POOL, tags=SYNC_TAGS, description="Push the Wix changes of an inbox range to the external system."
)
def push_wix_changes(
    context: dg.OpExecutionContext,
    config: WixChangesConfig,
    wix: WixApiResource,
    warehouse: WarehouseResource,
    external: ExternalSystemResource,
    sync_settings: SyncSettingsResource,
) -> dg.Output[dict[str, Any]]:
    events = WebhookInbox(sync_settings.inbox_path).read(config.after_seq, up_to_seq=config.up_to_seq, limit=10**6)
    context.log.info(f"{len(events)} inbox events in ({config.after_seq}, {config.up_to_seq}]")
    return _run_engine(
        context, wix, warehouse, external, sync_settings, config.dry_run, lambda e: e.handle_wix_events(events)
    )


@dg.op(pool=WAREHOUSE_POOL, tags=SYNC_TAGS, description="Push external changes of a change-feed range to Wix.")
def push_external_changes(
    context: dg.OpExecutionContext,
    config: ExternalChangesConfig,
    wix: WixApiResource,
    warehouse: WarehouseResource,
    external: ExternalSystemResource,
    sync_settings: SyncSettingsResource,
) -> dg.Output[dict[str, Any]]:
    changes = []
    for item in config.changes:
        kind, _, record_id = item.partition(":")
        changes.append(Change(cursor=config.cursor_to, kind=kind, id=record_id, op="upsert"))  # type: ignore[arg-type]
    context.log.info(f"{len(changes)} external changes in ({config.cursor_from}, {config.cursor_to}]")
    return _run_engine(
        context, wix, warehouse, external, sync_settings, config.dry_run, lambda e: e.handle_external_changes(changes)
    )


@dg.op(pool=WAREHOUSE_POOL, tags=SYNC_TAGS, description="Reconcile every record of both sides (catches missed events).")
def reconcile_sync(
    context: dg.OpExecutionContext,
    config: ReconcileConfig,
    wix: WixApiResource,
    warehouse: WarehouseResource,
    external: ExternalSystemResource,
    sync_settings: SyncSettingsResource,
) -> dg.Output[dict[str, Any]]:
    sor = config.setup_system_of_record.strip().lower()
    if sor not in ("", "wix", "external"):
        raise dg.Failure(f'setup_system_of_record must be "wix", "external" or empty, got {sor!r}')

    source = config.wix_source.strip().lower()
    if source not in ("warehouse", "api"):
        raise dg.Failure(f'wix_source must be "warehouse" or "api", got {source!r}')

    def work(engine: SyncEngine) -> SyncReport:
        if not sor:
            return engine.reconcile_all(wix_source="api" if source == "api" else "warehouse")
        return initial_setup(engine, "wix" if sor == "wix" else "external")

    return _run_engine(context, wix, warehouse, external, sync_settings, config.dry_run, work)


@dg.job(tags=JOB_TAGS, description="Wix → external: the changes of one webhook-inbox range.")
def wix_to_external_job() -> None:
    push_wix_changes()


@dg.job(tags=JOB_TAGS, description="External → Wix: the changes of one change-feed range.")
def external_to_wix_job() -> None:
    push_external_changes()


@dg.job(tags=JOB_TAGS, description="Full reconciliation of Wix and the external system (or the initial setup).")
def sync_reconcile_job() -> None:
    reconcile_sync()
