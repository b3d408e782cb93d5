"""Review Requests v2 (SPEC.md §7): create (order/items rules), get, delete, query, count, bulk create/cancel."""

from __future__ import annotations

import copy
from typing import Any

from wix_pipelines.emulator.config import REVIEW_REQUEST_NOT_CANCELED_CODE
from wix_pipelines.emulator.context import Ctx
from wix_pipelines.emulator.errors import ApiError, not_found, validation_error
from wix_pipelines.emulator.paging import cursor_page
from wix_pipelines.emulator.query import DEFAULT_SORT, REVIEW_REQUESTS_SPEC, compile_filter
from wix_pipelines.emulator.reviews import bulk_results
from wix_pipelines.emulator.seed import top_items
from wix_pipelines.emulator.state import EmulatorState, new_id
from wix_pipelines.emulator.store import Record
from wix_pipelines.emulator.timeutil import normalize_iso, now_iso

BASE = "/reviews/v2/review-requests"
BULK_CREATE = "/reviews/v2/bulk/review-requests/create"
BULK_CANCEL = "/reviews/v2/bulk/review-requests/cancel-by-filter"
FQDN = "wix.reviews.v2.review_request"
EVENT = "wix.reviews.v2.review_request_"
MAX_ITEMS = 5


def get_request(state: EmulatorState, request_id: str) -> Record:
    record = state.review_requests.get(request_id)
    if record is None:
        raise not_found("REVIEW_REQUEST_NOT_FOUND", "review request", request_id)
    return record


def _requested_by(identity: dict[str, Any]) -> dict[str, Any]:
    kind = identity.get("identityType")
    if kind == "APP":
        return {"identityType": "APP", "appId": identity.get("appId")}
    if kind == "WIX_USER":
        return {"identityType": "WIX_USER", "wixUserId": identity.get("wixUserId")}
    raise ApiError(
        428,
        "INITIATOR_IDENTITY_NOT_SUPPORTED",
        f"review requests can be created by a Wix user or an app, not by {kind}",
    )


def create_request(state: EmulatorState, raw: Any, identity: dict[str, Any]) -> Record:
    if not isinstance(raw, dict):
        raise validation_error("reviewRequest", "must not be empty")
    if raw.get("communicationChannel") != "EMAIL":
        raise validation_error("reviewRequest.communicationChannel", "must be EMAIL", "INVALID_ENUM_VALUE")
    contact_id = (raw.get("recipient") or {}).get("contactId")
    if not contact_id:
        raise validation_error("reviewRequest.recipient.contactId", "must not be empty")
    order_id = (raw.get("order") or {}).get("id")
    wanted = [
        str(i.get("catalogItemId")) for i in raw.get("items") or [] if isinstance(i, dict) and i.get("catalogItemId")
    ]
    if len(wanted) > MAX_ITEMS:
        raise validation_error("reviewRequest.items", f"must have at most {MAX_ITEMS} items", "MAX_SIZE")
    if not order_id and not wanted:
        raise ApiError(
            400,
            "EITHER_ORDER_OR_ITEMS_REQUIRED",
            "Must specify either the `order.id` or at least 1 `items.catalogItemId`.",
        )
    requested_by = _requested_by(identity)
    if order_id:
        order = state.orders.get(str(order_id))
        if order is None:
            raise ApiError(428, "ORDER_NOT_FOUND", f"Couldn't find the order {order_id!r}.", {"orderId": order_id})
        if not order.get("items"):
            raise ApiError(428, "ORDER_IS_EMPTY", f"Order {order_id!r} has no items.", {"orderId": order_id})
        if wanted:
            in_order = {i["catalogItemId"] for i in order["items"]}
            chosen = [i for i in dict.fromkeys(wanted) if i in in_order]
            if not chosen:
                raise validation_error(
                    "reviewRequest.items", f"none of the items belong to order {order_id}", "NOT_IN_ORDER"
                )
        else:
            chosen = top_items(order, MAX_ITEMS)
    else:
        chosen = list(dict.fromkeys(wanted))
    now = now_iso()
    record: Record = {
        "id": new_id(),
        "revision": "1",
        "createdDate": now,
        "updatedDate": now,
        "sendDate": normalize_iso(raw["sendDate"]) if raw.get("sendDate") else now,
        "namespace": str(raw.get("namespace") or "stores"),
        "items": [{"catalogItemId": item_id} for item_id in chosen],
        "recipient": {"contactId": str(contact_id)},
        "communicationChannel": "EMAIL",
        "status": "SCHEDULED",
        "requestedBy": requested_by,
    }
    if order_id:
        record["order"] = {"id": str(order_id)}
    if raw.get("automationActivationId"):
        record["automationActivationId"] = str(raw["automationActivationId"])
    state.put("review_requests", record)
    state.stats.count_write()
    state.emit(EVENT + "created", FQDN, "created", record["id"], identity, created=record)
    return record


def h_create(ctx: Ctx) -> Any:
    return {"reviewRequest": create_request(ctx.state, ctx.body.get("reviewRequest"), ctx.identity)}


def h_get(ctx: Ctx) -> Any:
    record = get_request(ctx.state, ctx.path_params["reviewRequestId"])
    return b'{"reviewRequest":' + ctx.state.review_requests.json(record["id"]) + b"}"


def h_delete(ctx: Ctx) -> Any:
    state = ctx.state
    record = get_request(state, ctx.path_params["reviewRequestId"])
    if record["status"] != "CANCELED":
        raise ApiError(
            428,
            REVIEW_REQUEST_NOT_CANCELED_CODE,
            f"review request {record['id']} is {record['status']}; only CANCELED requests can be deleted",
            {"status": record["status"]},
        )
    state.delete("review_requests", record["id"])
    state.stats.count_write()
    state.emit(EVENT + "deleted", FQDN, "deleted", record["id"], ctx.identity, deleted=record)
    return {}


def h_query(ctx: Ctx) -> Any:
    return cursor_page(
        ctx.state.review_requests,
        REVIEW_REQUESTS_SPEC,
        ctx.obj("query"),
        "reviewRequests",
        "pagingMetadata",
        has_next_field=True,
    )


def h_count(ctx: Ctx) -> Any:
    flt = compile_filter(REVIEW_REQUESTS_SPEC, ctx.body.get("filter"))
    return {"count": len(ctx.state.review_requests.matching_ids(REVIEW_REQUESTS_SPEC, flt, DEFAULT_SORT))}


def h_bulk_create(ctx: Ctx) -> Any:
    return bulk_results(
        ctx.body.get("reviewRequests"),
        50,
        lambda item: create_request(ctx.state, item, ctx.identity),
        "item",  # bulk create answers `item`, not `reviewRequest` (SPEC.md §7)
        ctx.flag("returnEntity"),
        "reviewRequests",
    )


def h_bulk_cancel(ctx: Ctx) -> Any:
    """Cancel every SCHEDULED request matching the filter; Wix runs this as a job, we finish it at once."""
    state = ctx.state
    flt = compile_filter(REVIEW_REQUESTS_SPEC, ctx.body.get("filter"))
    for request_id in list(state.review_requests.matching_ids(REVIEW_REQUESTS_SPEC, flt, DEFAULT_SORT)):
        old = state.review_requests.get(request_id)
        if old is None or old["status"] != "SCHEDULED":
            continue
        record = copy.deepcopy(old)
        record["status"] = "CANCELED"
        record["revision"] = str(int(old["revision"]) + 1)
        record["updatedDate"] = now_iso()
        state.put("review_requests", record)
        state.stats.count_write()
        state.emit(EVENT + "updated", FQDN, "updated", request_id, ctx.identity, updated=record)
    return {"jobId": new_id()}


ROUTES = [
    ("POST", BASE, h_create),
    ("POST", BASE + "/query", h_query),
    ("POST", BASE + "/count", h_count),
    ("GET", BASE + "/{reviewRequestId}", h_get),
    ("DELETE", BASE + "/{reviewRequestId}", h_delete),
    ("POST", BULK_CREATE, h_bulk_create),
    ("PUT", BULK_CANCEL, h_bulk_cancel),
]
