"""Sensors: the webhook inbox and the external change feed. Each keeps its position in the sensor cursor and
names its runs after the range they cover, so a range is pushed by exactly one run (run keys never repeat)."""

# No `from __future__ import annotations`: Dagster reads the config and resource annotations at definition time.

import dagster as dg

from wix_pipelines.webhooks.inbox import WebhookInbox

from .jobs import external_to_wix_job, wix_to_external_job
from .resources import ExternalSystemResource, SyncSettingsResource

MAX_BATCHES_PER_TICK = 5


@dg.sensor(
    job=wix_to_external_job,
    minimum_interval_seconds=15,
    description="New events in the webhook inbox → a Wix → external push run per range of inbox seqs.",
)
def wix_webhook_inbox_sensor(
    context: dg.SensorEvaluationContext, sync_settings: SyncSettingsResource
) -> dg.SensorResult | dg.SkipReason:
    after = int(context.cursor or 0)
    inbox = WebhookInbox(sync_settings.inbox_path)  # read-only: the sensor never writes anything
    run_requests = []
    for _ in range(MAX_BATCHES_PER_TICK):
        events = inbox.read(after, limit=sync_settings.batch_size)
        if not events:
            break
        first, last = events[0].seq, events[-1].seq
        run_requests.append(
            dg.RunRequest(
                run_key=f"wix-inbox-{first}-{last}",
                run_config={"ops": {"push_wix_changes": {"config": {"after_seq": after, "up_to_seq": last}}}},
                tags={"wix_sync/range": f"{first}-{last}"},
            )
        )
        after = last
    if not run_requests:
        return dg.SkipReason(f"no inbox events after seq {after}")
    return dg.SensorResult(run_requests=run_requests, cursor=str(after))


@dg.sensor(
    job=external_to_wix_job,
    minimum_interval_seconds=30,
    description="Poll the external change feed → an external → Wix push run per feed range.",
)
def external_change_feed_sensor(
    context: dg.SensorEvaluationContext, external: ExternalSystemResource, sync_settings: SyncSettingsResource
) -> dg.SensorResult | dg.SkipReason:
    cursor = context.cursor or "0"
    run_requests = []
    with external.get_adapter() as adapter:
        for _ in range(MAX_BATCHES_PER_TICK):
            batch = adapter.list_changes(cursor, limit=sync_settings.batch_size)
            if not batch.changes:
                break
            after = batch.next_cursor or cursor
            changes = sorted({f"{c.kind}:{c.id}" for c in batch.changes})
            run_requests.append(
                dg.RunRequest(
                    run_key=f"external-feed-{cursor}-{after}",
                    run_config={
                        "ops": {
                            "push_external_changes": {
                                "config": {"changes": changes, "cursor_from": cursor, "cursor_to": after}
                            }
                        }
                    },
                    tags={"wix_sync/range": f"{cursor}-{after}"},
                )
            )
            cursor = after
            if not batch.has_more:
                break
    if not run_requests:
        return dg.SkipReason(f"no external changes after cursor {cursor}")
    return dg.SensorResult(run_requests=run_requests, cursor=cursor)
