"""The delivery job: one op that sends every pending low-rating alert once to each configured channel."""

import dagster as dg

from wix_pipelines.alerts import deliver_pending
from wix_pipelines.defs.alerts.resources import AlertsResource
from wix_pipelines.defs.ingest.assets import WAREHOUSE_POOL
from wix_pipelines.defs.resources import WarehouseResource
from wix_pipelines.warehouse import alert_ledger

DELIVERY_JOB_NAME = "deliver_low_rating_alerts"


class DeliveryFailedError(Exception):
    """A channel refused an alert; the alert stays pending in the ledger."""


@dg.op(
    name="deliver_pending_alerts",
    description="Send low_rating_alerts not yet delivered to the webhook and/or JSONL outbox; once each.",
    pool=WAREHOUSE_POOL,  # it writes the ledger in the warehouse file
    tags={"kind": "duckdb"},
)
def deliver_low_rating_alerts_op(
    context: dg.OpExecutionContext, warehouse: WarehouseResource, alerts: AlertsResource
) -> None:
    channels = alerts.channels()
    if not channels:
        context.log.warning(
            "no alert channel configured: set WIX_ALERTS_WEBHOOK_URL and/or WIX_ALERTS_OUTBOX; nothing delivered"
        )
        return
    try:
        with warehouse.get().connect() as con:
            report = deliver_pending(con, channels, run_id=context.run_id, since=alerts.since(), log=context.log.info)
            counts = alert_ledger.delivery_counts(con)
    finally:
        for channel in channels:
            close = getattr(channel, "close", None)
            if close is not None:
                close()
    # The ledger changed (deliveries and failed attempts alike): analysts see it in the snapshot.
    warehouse.publish_snapshot()
    # Shown on the low_rating_alerts asset page, next to the materializations the deliveries came from.
    context.log_event(
        dg.AssetObservation(
            asset_key="low_rating_alerts",
            metadata={
                "delivered_this_attempt": dg.MetadataValue.json(report.delivered),
                "recovered_from_channel": dg.MetadataValue.json(report.recovered),
                "pending": dg.MetadataValue.json(report.pending),
                "ledger": dg.MetadataValue.json(counts),
                "errors": "\n".join(report.errors),
            },
        )
    )
    if report.failed:
        message = "; ".join(report.errors)
        context.log.error(f"alert delivery failed, will retry: {message}")
        # RetryRequested, not a static RetryPolicy, so the count and wait come from the resource (tests use
        # short waits; production waits 30 s, 60 s, 120 s, ...). Past the last retry the run fails, visibly in
        # the UI, and the alerts stay pending for the next delivery run.
        attempt = context.retry_number
        raise dg.RetryRequested(
            max_retries=alerts.max_retries, seconds_to_wait=alerts.retry_wait_s * (2**attempt)
        ) from DeliveryFailedError(message)


@dg.job(
    name=DELIVERY_JOB_NAME,
    description="Deliver new low-rating alerts once each (launched by the low_rating_alerts sensor).",
    tags={"wix/alerts": "delivery"},
)
def deliver_low_rating_alerts_job() -> None:
    deliver_low_rating_alerts_op()
