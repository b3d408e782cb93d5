"""The raw pull assets: `contacts`, `reviews`, `ratings`, `review_requests`, one table each.

Every asset writes the DuckDB file, so every asset is in the `duckdb_warehouse` pool (limit 1 in dagster.yaml):
parallel runs and backfills queue instead of failing on DuckDB's file lock. After each write the analyst
snapshot is republished.
"""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from wix_pipelines.defs.resources import WarehouseResource, WixApiResource
from wix_pipelines.ingest.pull import PullOptions, PullReport, pull_stream
from wix_pipelines.ingest.streams import STREAMS, Stream
from wix_pipelines.warehouse import publish_snapshot_from
from wix_pipelines.warehouse.checks import evaluate, rules_for
from wix_pipelines.warehouse.summary import live_row_count, preview_markdown

WAREHOUSE_POOL = "duckdb_warehouse"
RAW_GROUP = "wix_raw"


class PullConfig(dg.Config):
    """Run configuration of a pull (set in the launchpad, or by the reconciliation schedule)."""

    lookback_minutes: int = Field(
        default=60, description="Re-read this much before the createdDate watermark, for late records."
    )
    updated_lookback_seconds: int = Field(
        default=5,
        description=(
            "Contacts: also re-read contacts updated this long before the start of the last complete pass (clock "
            "skew, and the delay before an update shows in query results)."
        ),
    )
    records_per_batch: int = Field(
        default=10_000,
        description=(
            "Records shaped at a time; a commit holds a whole row group (16,384 new rows) and the watermark it covers."
        ),
    )
    reconcile: bool = Field(
        default=False,
        description="Re-read the whole stream: catches changes the API cannot filter on, and marks deletions.",
    )
    staged_batches_ahead: int = Field(
        default=1,
        description=(
            "Batches shaped on a thread of their own while the previous one commits (~1.4x faster full loads on "
            "2 cores); 0 shapes on the run's thread, with less memory in flight."
        ),
    )

    def options(self) -> PullOptions:
        return PullOptions(
            lookback=timedelta(minutes=self.lookback_minutes),
            updated_lookback=timedelta(seconds=self.updated_lookback_seconds),
            records_per_batch=self.records_per_batch,
            reconcile=self.reconcile,
            staged_batches_ahead=self.staged_batches_ahead,
        )


def report_metadata(report: PullReport, row_count: int, preview_markdown: str) -> dict[str, Any]:
    return {
        "dagster/row_count": row_count,
        "mode": report.mode,
        "fetched": report.fetched,
        "inserted": report.inserted,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "deleted": report.deleted,
        "rejected": report.rejected,
        "requests": report.requests,
        "pages": report.pages,
        "watermark_before": report.watermark_before or "",
        "watermark_after": report.watermark_after or "",
        "window": dg.MetadataValue.json(report.window),
        "seconds_in_asset": report.seconds,
        "preview": dg.MetadataValue.md(preview_markdown),
    }


def _check_specs(stream: Stream) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(rule.name, asset=stream.name, description=rule.description, blocking=rule.blocking)
        for rule in rules_for(stream.name)
    ]


def build_pull_asset(stream: Stream) -> dg.AssetsDefinition:
    @dg.asset(
        name=stream.name,
        group_name=RAW_GROUP,
        kinds={"wix", "duckdb"},
        description=f"{stream.description} Pulled incrementally on a createdDate watermark.",
        pool=WAREHOUSE_POOL,
        check_specs=_check_specs(stream),
    )
    def _pull(
        context: dg.AssetExecutionContext,
        config: PullConfig,
        wix: WixApiResource,
        warehouse: WarehouseResource,
    ) -> Iterator[dg.MaterializeResult]:
        with wix.get_client() as client:
            report = pull_stream(
                client,
                warehouse.get(),
                stream.name,
                config.options(),
                run_id=context.run_id,
                progress=context.log.info,
            )
        # One connection for the epilogue and the snapshot: each open of the file costs ~50-100 ms.
        with warehouse.get().connect() as con:
            # The checks read whole tables: under the pull's memory limit, DuckDB evicts (and spills) instead of
            # keeping every block it read, memory that would grow with the site.
            con.execute(f"SET memory_limit = '{config.options().duckdb_working_memory_mb}MiB'")
            row_count = live_row_count(con, stream.name)
            preview = preview_markdown(con, stream.name)
            check_results = []
            for rule in rules_for(stream.name):
                violations, examples = evaluate(con, rule)
                check_results.append(
                    dg.AssetCheckResult(
                        check_name=rule.name,
                        passed=violations == 0,
                        severity=dg.AssetCheckSeverity.ERROR if rule.blocking else dg.AssetCheckSeverity.WARN,
                        metadata={"violations": violations, "examples": ", ".join(examples)},
                    )
                )
            publish_snapshot_from(con, warehouse.snapshot_path)
        yield dg.MaterializeResult(metadata=report_metadata(report, row_count, preview), check_results=check_results)

    return _pull


pull_assets = [build_pull_asset(stream) for stream in STREAMS.values()]
