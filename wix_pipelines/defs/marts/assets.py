"""The derived assets (group `wix_marts`): one DuckDB table each, rebuilt when their raw inputs change.

The SQL lives in `wix_pipelines.warehouse.marts`; this module wires it into Dagster. Every asset writes the
warehouse file, so every asset is in the `duckdb_warehouse` pool and republishes the analysts' snapshot
after its write. Declarative automation (`eager`) rebuilds a mart once its inputs are newer than it, and the
automation sensor that evaluates it is on by default (`marts_automation_sensor`).
"""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from pydantic import Field

from wix_pipelines.defs.alerts.resources import AlertsResource
from wix_pipelines.defs.ingest.assets import WAREHOUSE_POOL
from wix_pipelines.defs.resources import WarehouseResource
from wix_pipelines.warehouse import marts
from wix_pipelines.warehouse.marts import MARTS, MartResult

MARTS_GROUP = "wix_marts"
EXPORTS_DIR_NAME = "exports"  # data/exports/, next to the warehouse file

# Rebuild as soon as any raw input was updated (and none is missing or being written). The marts are cheap
# full recomputes, so there is no reason to wait for a cron tick.
AUTOMATION = dg.AutomationCondition.eager()


def _column_schema(mart: str) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(c.name, c.sql_type, description=c.doc) for c in MARTS[mart].columns])


def _materialize(
    warehouse: WarehouseResource,
    mart: str,
    build: Callable[[duckdb.DuckDBPyConnection], MartResult],
    extra: Callable[[duckdb.DuckDBPyConnection], dict[str, Any]] | None = None,
) -> dg.MaterializeResult:
    """Build one mart in one connection, then republish the analysts' snapshot."""
    started = time.perf_counter()
    with warehouse.get().connect() as con:
        result = build(con)
        seconds = time.perf_counter() - started
        metadata: dict[str, Any] = {
            "dagster/row_count": result.rows,
            "dagster/column_schema": _column_schema(mart),
            "mode": result.mode,
            "seconds_in_sql": round(seconds, 3),
            "preview": dg.MetadataValue.md(marts.preview_markdown(con, mart)),
            **(result.details or {}),
        }
        if extra is not None:
            metadata.update(extra(con))
    warehouse.publish_snapshot()
    return dg.MaterializeResult(metadata=metadata)


def _mart_asset(name: str, deps: list[str], **kwargs: object) -> Callable[..., dg.AssetsDefinition]:
    kinds = kwargs.pop("kinds", {"duckdb", "sql"})
    return dg.asset(
        name=name,
        group_name=MARTS_GROUP,
        kinds=kinds,  # type: ignore[arg-type]
        description=MARTS[name].doc,
        deps=deps,
        pool=WAREHOUSE_POOL,
        automation_condition=AUTOMATION,
        **kwargs,  # type: ignore[arg-type]
    )


@_mart_asset("helpfulness_rankings", ["reviews"])
def helpfulness_rankings(warehouse: WarehouseResource) -> dg.MaterializeResult:
    return _materialize(warehouse, "helpfulness_rankings", marts.build_helpfulness_rankings)


class ReviewMediaConfig(dg.Config):
    full_refresh: bool = Field(
        default=False, description="Re-extract every review's media instead of only those written since the last build."
    )


@_mart_asset("review_media", ["reviews"])
def review_media(config: ReviewMediaConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    return _materialize(
        warehouse, "review_media", lambda con: marts.build_review_media(con, full_refresh=config.full_refresh)
    )


@_mart_asset("low_rating_alerts", ["reviews"])
def low_rating_alerts(warehouse: WarehouseResource, alerts: AlertsResource) -> dg.MaterializeResult:
    """Materializing this table is what the delivery sensor watches; delivery itself is a separate job."""
    return _materialize(
        warehouse,
        "low_rating_alerts",
        lambda con: marts.build_low_rating_alerts(
            con, threshold=alerts.rating_threshold, dashboard_url=alerts.dashboard_url()
        ),
    )


@_mart_asset("subscribed_contacts", ["contacts"], kinds={"duckdb", "sql", "csv", "parquet"})
def subscribed_contacts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    export_dir = Path(warehouse.path).parent / EXPORTS_DIR_NAME

    def exports(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        exported = marts.export_table(con, "subscribed_contacts", export_dir)
        context.log.info(f"exported {exported.rows} subscribed contacts to {exported.csv} and {exported.parquet}")
        return {
            "export_csv": dg.MetadataValue.path(str(exported.csv)),
            "export_parquet": dg.MetadataValue.path(str(exported.parquet)),
            "export_csv_bytes": exported.csv_bytes,
            "export_parquet_bytes": exported.parquet_bytes,
        }

    return _materialize(warehouse, "subscribed_contacts", marts.build_subscribed_contacts, exports)


@_mart_asset("rating_summaries", ["ratings", "reviews"])
def rating_summaries(warehouse: WarehouseResource) -> dg.MaterializeResult:
    return _materialize(warehouse, "rating_summaries", marts.build_rating_summaries)


mart_assets: list[dg.AssetsDefinition] = [
    helpfulness_rankings,
    review_media,
    low_rating_alerts,
    subscribed_contacts,
    rating_summaries,
]

# Declarative automation is evaluated by a sensor; declaring it here with RUNNING turns it on by default
# (Dagster's implicit default automation sensor starts stopped unless the instance says otherwise).
marts_automation_sensor = dg.AutomationConditionSensorDefinition(
    "wix_marts_automation",
    target=dg.AssetSelection.groups(MARTS_GROUP),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Rebuilds the marts after their raw inputs are updated (AutomationCondition.eager()).",
)

mart_sensors: list[dg.SensorDefinition] = [marts_automation_sensor]
