"""Hand-built raw records (REST-shaped, as the API serves them) and Dagster runs of the marts over them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from wix_pipelines.defs.alerts.resources import AlertsResource
from wix_pipelines.defs.marts import mart_assets
from wix_pipelines.defs.resources import WarehouseResource
from wix_pipelines.warehouse import Warehouse

SITE_ID = "site-0001"


def review(
    review_id: str,
    entity: str = "prod-a",
    *,
    rating: int = 5,
    helpful: int = 0,
    unhelpful: int = 0,
    created: str = "2025-01-01T00:00:00.000Z",
    status: str = "APPROVED",
    media: list[dict[str, Any]] | None = None,
    body: str | None = "Fine.",
    title: str | None = "Title",
    contact: str | None = None,
    author: str | None = None,
) -> dict[str, Any]:
    content: dict[str, Any] = {"rating": rating, "media": media or []}
    if title is not None:
        content["title"] = title
    if body is not None:
        content["body"] = body
    return {
        "id": review_id,
        "namespace": "stores",
        "entityId": entity,
        "author": {"contactId": contact or f"contact-{review_id}", "authorName": author or f"Author {review_id}"},
        "content": content,
        "createdDate": created,
        "updatedDate": created,
        "reviewDate": created,
        "foundHelpful": helpful,
        "foundUnhelpful": unhelpful,
        "helpfulness": helpful - unhelpful,
        "moderation": {"moderationStatus": status, "manuallyChanged": False},
        "revision": "1",
        "verified": False,
    }


def rating(
    rating_id: str, entity: str, value: float, *, attribute: str = "overall", owner: str | None = None
) -> dict[str, Any]:
    return {
        "id": rating_id,
        "revision": "1",
        "namespace": "reviews",
        "group": "stores",
        "entityId": entity,
        "attributeName": attribute,
        "value": value,
        "owner": {"contactId": owner or f"owner-{rating_id}"},
        "createdDate": "2025-02-01T00:00:00.000Z",
        "updatedDate": "2025-02-01T00:00:00.000Z",
    }


def contact(
    contact_id: str,
    email: str | None,
    *,
    primary_status: str | None = "NOT_SET",
    ext_status: str | None = "NOT_SET",
    effective_email: str | None = None,
    updated: str = "2025-03-01T00:00:00.000Z",
) -> dict[str, Any]:
    ext: dict[str, Any] = {"custom.loyalty-tier": "gold"}
    if ext_status is not None:
        ext["emailSubscriptions.subscriptionStatus"] = ext_status
    if effective_email is not None:
        ext["emailSubscriptions.effectiveEmail"] = effective_email
    record: dict[str, Any] = {
        "id": contact_id,
        "revision": 1,
        "createdDate": "2025-01-01T00:00:00.000Z",
        "updatedDate": updated,
        "info": {"name": {"first": f"First-{contact_id}", "last": "Last"}, "locale": "en-US",
                 "extendedFields": {"items": ext}},
        "primaryInfo": {},
    }  # fmt: skip
    if email is not None:
        record["primaryInfo"]["email"] = email
        record["info"]["emails"] = {"items": [{"id": "e1", "tag": "MAIN", "email": email, "primary": True}]}
        record["primaryEmail"] = {"email": email, "deliverabilityStatus": "VALID"}
        if primary_status is not None:
            record["primaryEmail"]["subscriptionStatus"] = primary_status
    return record


def warehouse_resource(tmp_path: Path) -> WarehouseResource:
    return WarehouseResource(
        path=str(tmp_path / "data" / "warehouse.duckdb"), snapshot_path=str(tmp_path / "data" / "analytics.duckdb")
    )


def load(tmp_path: Path, stream: str, records: list[dict[str, Any]]) -> None:
    """Upsert through the warehouse's real path (the same SQL the pull assets use)."""
    Warehouse(warehouse_resource(tmp_path).path).upsert_batch(stream, records=records, strict=True)


def materialize(
    tmp_path: Path,
    *marts: str,
    alerts: AlertsResource | None = None,
    instance: dg.DagsterInstance | None = None,
    run_config: dict[str, Any] | None = None,
) -> dg.ExecuteInProcessResult:
    resources = {
        "warehouse": warehouse_resource(tmp_path),
        "alerts": alerts or AlertsResource(site_id=SITE_ID),
    }
    return dg.materialize(
        mart_assets, selection=list(marts), resources=resources, instance=instance, run_config=run_config
    )


def rows(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Query the warehouse read-only (the run closed its connection)."""
    with duckdb.connect(warehouse_resource(tmp_path).path, read_only=True) as con:
        return con.execute(sql).fetchall()


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)]
    return {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}
