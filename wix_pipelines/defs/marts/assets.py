"""The derived assets (group `wix_marts`): one DuckDB table each, rebuilt when their raw inputs change.

The SQL lives in `wix_pipelines.warehouse.marts`; this module wires it into Dagster.

The five marts are one subsettable multi-asset rather than five assets: each mart is still its own node in
the lineage graph (own deps, description, metadata, automation), but a run that rebuilds several of them does
it in one step, on one connection, and republishes the analysts' snapshot once at the end instead of once per
mart (a publish copies the whole warehouse, which on 1M reviews costs more than all five marts together).
It writes the warehouse file, so it is in the `duckdb_warehouse` pool. Declarative automation (`eager`)
rebuilds a mart once its inputs are newer than it; the sensor that evaluates it is on by default.
"""

import time
from collections.abc import Callable, Iterator
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
MARTS_OP = "wix_marts"
EXPORTS_DIR_NAME = "exports"  # data/exports/, next to the warehouse file

# Rebuild as soon as any raw input was updated (and none is missing or being written). The marts are cheap
# recomputes, so there is no reason to wait for a cron tick.
AUTOMATION = dg.AutomationCondition.eager()

# Raw inputs of each mart: the lineage edges, and what eager automation watches.
MART_DEPS: dict[str, list[str]] = {
    "helpfulness_rankings": ["reviews"],
    "review_media": ["reviews"],
    "low_rating_alerts": ["reviews"],
    "subscribed_contacts": ["contacts"],
    "rating_summaries": ["ratings", "reviews"],
}
MART_KINDS: dict[str, set[str]] = {"subscribed_contacts": {"duckdb", "sql", "csv", "parquet"}}


class MartsConfig(dg.Config):
    review_media_full_refresh: bool = Field(
        default=False,
        description="review_media: re-extract every review's media instead of only those written since the last build.",
    )
    helpfulness_rankings_full_refresh: bool = Field(
        default=False,
        description="helpfulness_rankings: rebuild even when no review changed since the last build.",
    )


def _column_schema(mart: str) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(c.name, c.sql_type, description=c.doc) for c in MARTS[mart].columns])


def _specs() -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            name,
            group_name=MARTS_GROUP,
            kinds=MART_KINDS.get(name, {"duckdb", "sql"}),
            description=MARTS[name].doc,
            deps=MART_DEPS[name],
            automation_condition=AUTOMATION,
            metadata={"dagster/column_schema": _column_schema(name)},
        )
        for name in MARTS
    ]


def _builders(
    config: MartsConfig, alerts: AlertsResource
) -> dict[str, Callable[[duckdb.DuckDBPyConnection], MartResult]]:
    return {
        "helpfulness_rankings": lambda con: marts.build_helpfulness_rankings(
            con, full_refresh=config.helpfulness_rankings_full_refresh
        ),
        "review_media": lambda con: marts.build_review_media(con, full_refresh=config.review_media_full_refresh),
        "low_rating_alerts": lambda con: marts.build_low_rating_alerts(
            con, threshold=alerts.rating_threshold, dashboard_url=alerts.dashboard_url()
        ),
        "subscribed_contacts": marts.build_subscribed_contacts,
        "rating_summaries": marts.build_rating_summaries,
    }


def _export_metadata(con: duckdb.DuckDBPyConnection, export_dir: Path) -> dict[str, Any]:
    exported = marts.export_table(con, "subscribed_contacts", export_dir)
    return {
        "export_csv": dg.MetadataValue.path(str(exported.csv)),
        "export_parquet": dg.MetadataValue.path(str(exported.parquet)),
        "export_csv_bytes": exported.csv_bytes,
        "export_parquet_bytes": exported.parquet_bytes,
    }


@dg.multi_asset(name=MARTS_OP, specs=_specs(), can_subset=True, pool=WAREHOUSE_POOL)
def wix_marts(
    context: dg.AssetExecutionContext, config: MartsConfig, warehouse: WarehouseResource, alerts: AlertsResource
) -> Iterator[dg.MaterializeResult]:
    builders = _builders(config, alerts)
    selected = [name for name in MARTS if dg.AssetKey(name) in context.selected_asset_keys]
    results: list[dg.MaterializeResult] = []
    with warehouse.get().connect() as con:
        for name in selected:
            started = time.perf_counter()
            result = builders[name](con)
            metadata: dict[str, Any] = {
                "dagster/row_count": result.rows,
                "mode": result.mode,
                "seconds_in_sql": round(time.perf_counter() - started, 3),
                "preview": dg.MetadataValue.md(marts.preview_markdown(con, name)),
                **(result.details or {}),
            }
            if name == "subscribed_contacts":
                metadata.update(_export_metadata(con, Path(warehouse.path).parent / EXPORTS_DIR_NAME))
                context.log.info(f"exported {result.rows} subscribed contacts to {metadata['export_csv'].path}")
            context.log.info(f"{name}: {result.rows} rows ({result.mode}) in {metadata['seconds_in_sql']} s")
            results.append(dg.MaterializeResult(asset_key=name, metadata=metadata))
    # Once for all the marts of this run; materializations are reported only after it succeeded, so a
    # failed publish shows as a failed step rather than as marts the analysts cannot see yet.
    warehouse.publish_snapshot()
    yield from results


mart_assets: list[dg.AssetsDefinition] = [wix_marts]

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
