"""Review requests v2 (SPEC.md §7): order/items rules, errors, delete only when canceled."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from wix_pipelines.emulator.server import RunningEmulator
from wix_pipelines_tests.emulator.helpers import app_code, ok

BASE = "/reviews/v2/review-requests"


@pytest.fixture
def order(emulator: RunningEmulator) -> dict[str, Any]:
    """An order with 7 priced items, inserted through the admin back door."""
    items = [
        {"catalogItemId": f"item-{i}", "name": f"Item {i}", "price": price}
        for i, price in enumerate((5, 50, 20, 80, 10, 70, 30))
    ]
    return emulator.state.insert_records("orders", [{"id": "order-7", "items": items}])[0]


def create(client: httpx.Client, **request: Any) -> httpx.Response:
    body = {
        "reviewRequest": {
            "namespace": "stores",
            "recipient": {"contactId": "c-1"},
            "communicationChannel": "EMAIL",
            **request,
        }
    }
    return client.post(BASE, json=body)


def test_order_only_takes_the_five_most_expensive_items(emulator_http: httpx.Client, order: dict[str, Any]) -> None:
    request = ok(create(emulator_http, order={"id": order["id"]}))["reviewRequest"]
    assert [i["catalogItemId"] for i in request["items"]] == ["item-3", "item-5", "item-1", "item-6", "item-2"]
    assert request["status"] == "SCHEDULED" and request["revision"] == "1"
    assert request["requestedBy"]["identityType"] == "WIX_USER"


def test_items_only_and_items_from_an_order(emulator_http: httpx.Client, order: dict[str, Any]) -> None:
    items_only = ok(create(emulator_http, items=[{"catalogItemId": "anything"}]))["reviewRequest"]
    assert items_only["items"] == [{"catalogItemId": "anything"}]
    both = ok(
        create(emulator_http, order={"id": order["id"]}, items=[{"catalogItemId": "item-0"}, {"catalogItemId": "nope"}])
    )
    assert both["reviewRequest"]["items"] == [{"catalogItemId": "item-0"}]


def test_create_errors_follow_the_documented_statuses(emulator: RunningEmulator, emulator_http: httpx.Client) -> None:
    neither = create(emulator_http)
    assert (neither.status_code, app_code(neither)) == (400, "EITHER_ORDER_OR_ITEMS_REQUIRED")
    missing = create(emulator_http, order={"id": "no-such-order"})
    assert (missing.status_code, app_code(missing)) == (428, "ORDER_NOT_FOUND")
    emulator.state.insert_records("orders", [{"id": "empty-order", "items": []}])
    empty = create(emulator_http, order={"id": "empty-order"})
    assert (empty.status_code, app_code(empty)) == (428, "ORDER_IS_EMPTY")
    member = emulator_http.post(
        BASE,
        json={
            "reviewRequest": {
                "items": [{"catalogItemId": "x"}],
                "recipient": {"contactId": "c"},
                "communicationChannel": "EMAIL",
            }
        },
        headers={"x-emulator-identity": '{"identityType": "MEMBER", "memberId": "m-1"}'},
    )
    assert (member.status_code, app_code(member)) == (428, "INITIATOR_IDENTITY_NOT_SUPPORTED")


def test_only_canceled_requests_can_be_deleted(emulator_http: httpx.Client) -> None:
    request = ok(create(emulator_http, items=[{"catalogItemId": "x"}]))["reviewRequest"]
    refused = emulator_http.delete(f"{BASE}/{request['id']}")
    assert (refused.status_code, app_code(refused)) == (428, "REVIEW_REQUEST_NOT_CANCELED")
    ok(emulator_http.put("/reviews/v2/bulk/review-requests/cancel-by-filter", json={"filter": {"id": request["id"]}}))
    assert ok(emulator_http.get(f"{BASE}/{request['id']}"))["reviewRequest"]["status"] == "CANCELED"
    assert ok(emulator_http.delete(f"{BASE}/{request['id']}")) == {}
    assert emulator_http.get(f"{BASE}/{request['id']}").status_code == 404


def test_query_answers_paging_metadata_with_has_next(emulator_http: httpx.Client, emulator: RunningEmulator) -> None:
    statuses = {r["status"] for r in emulator.state.review_requests.values()}
    page = ok(
        emulator_http.post(
            f"{BASE}/query", json={"query": {"cursorPaging": {"limit": 2}, "sort": [{"fieldName": "status"}]}}
        )
    )
    assert page["pagingMetadata"]["hasNext"] is True and page["pagingMetadata"]["count"] == 2
    seen = [r["id"] for r in page["reviewRequests"]]
    while page["pagingMetadata"]["hasNext"]:
        cursor = page["pagingMetadata"]["cursors"]["next"]
        page = ok(emulator_http.post(f"{BASE}/query", json={"query": {"cursorPaging": {"cursor": cursor, "limit": 2}}}))
        seen += [r["id"] for r in page["reviewRequests"]]
    assert len(seen) == len(emulator.state.review_requests) == 5
    assert statuses
    scheduled = ok(emulator_http.post(f"{BASE}/count", json={"filter": {"status": "SCHEDULED"}}))["count"]
    assert scheduled == sum(r["status"] == "SCHEDULED" for r in emulator.state.review_requests.values())


def test_bulk_create_answers_item_not_review_request(emulator_http: httpx.Client) -> None:
    good = {"items": [{"catalogItemId": "x"}], "recipient": {"contactId": "c"}, "communicationChannel": "EMAIL"}
    body = {"reviewRequests": [good, {**good, "items": []}], "returnEntity": True}
    result = ok(emulator_http.post("/reviews/v2/bulk/review-requests/create", json=body))
    assert result["results"][0]["item"]["items"] == [{"catalogItemId": "x"}]
    assert result["results"][1]["itemMetadata"]["error"]["code"] == "EITHER_ORDER_OR_ITEMS_REQUIRED"
    raw = ok(emulator_http.post("/v2/bulk/review-requests/create", json=body))  # the SDK's unmapped raw path
    assert raw["bulkActionMetadata"]["totalSuccesses"] == 1
