"""Date-partitioned history pulls: re-pull the records created on given days, for backfills from the UI.

The raw assets are unpartitioned (they follow a watermark), so history pulls are a partitioned job whose ops
re-read one day of one stream each and upsert it. They are idempotent and leave watermarks alone; each op
records a materialization of the asset it wrote so the asset's history shows the backfill.
"""

import os

import dagster as dg

from wix_pipelines.defs.ingest.assets import WAREHOUSE_POOL, PullConfig, report_metadata
from wix_pipelines.defs.resources import WarehouseResource, WixApiResource
from wix_pipelines.ingest.pull import pull_range
from wix_pipelines.ingest.streams import STREAMS, Stream
from wix_pipelines.warehouse.summary import live_row_count, preview_markdown

HISTORY_JOB_NAME = "wix_history"
history_partitions = dg.DailyPartitionsDefinition(
    start_date=os.environ.get("WIX_HISTORY_START_DATE", "2023-01-01"), timezone="UTC"
)


def build_history_op(stream: Stream) -> dg.OpDefinition:
    @dg.op(
        name=f"{stream.name}_history",
        description=f"Re-pull the {stream.name} created in the partition's day and upsert them.",
        pool=WAREHOUSE_POOL,
        tags={"kind": "duckdb"},
    )
    def _history(
        context: dg.OpExecutionContext, config: PullConfig, wix: WixApiResource, warehouse: WarehouseResource
    ) -> None:
        window = context.partition_time_window
        with wix.get_client() as client:
            report = pull_range(
                client,
                warehouse.get(),
                stream.name,
                window.start,
                window.end,
                config.options(),
                run_id=context.run_id,
                progress=context.log.info,
            )
        with warehouse.get().connect() as con:
            metadata = report_metadata(report, live_row_count(con, stream.name), preview_markdown(con, stream.name))
        warehouse.publish_snapshot()
        metadata["partition"] = context.partition_key
        context.log_event(dg.AssetMaterialization(asset_key=stream.name, metadata=metadata))

    return _history


history_ops = [build_history_op(stream) for stream in STREAMS.values()]


@dg.job(
    name=HISTORY_JOB_NAME,
    partitions_def=history_partitions,
    description="Re-pull a range of days (createdDate) of every stream: launch a backfill over the partitions.",
)
def history_job() -> None:
    for history_op in history_ops:
        history_op()
