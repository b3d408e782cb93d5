"""The sensor that launches alert delivery after each materialization of `low_rating_alerts`.

It reads only Dagster's event log (never the warehouse file), keeps the storage id of the last
materialization it acted on as its cursor, and derives the run key from it, so one materialization launches
at most one delivery run and a re-evaluated tick launches nothing twice. Alerts a failed run left pending
go out with the next materialization (the ledger remembers them).
"""

from __future__ import annotations

import dagster as dg

from .jobs import deliver_low_rating_alerts_job

ALERTS_ASSET = dg.AssetKey("low_rating_alerts")


@dg.sensor(
    name="low_rating_alerts_sensor",
    job=deliver_low_rating_alerts_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Deliver alerts after each low_rating_alerts materialization.",
)
def low_rating_alerts_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    latest = context.instance.fetch_materializations(ALERTS_ASSET, limit=1).records
    if not latest:
        return dg.SkipReason("low_rating_alerts has not been materialized yet")
    storage_id = latest[0].storage_id
    seen = int(context.cursor) if context.cursor else 0
    if storage_id <= seen:
        return dg.SkipReason(f"no low_rating_alerts materialization after event {seen}")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=f"low_rating_alerts:{storage_id}", tags={"wix/alerts_event": str(storage_id)})
        ],
        cursor=str(storage_id),
    )
