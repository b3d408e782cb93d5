"""Ratings (SPEC.md §6.1 project choices): both request shapes, one rating per attribute per owner."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from wix_pipelines.emulator.server import RunningEmulator
from wix_pipelines.wix.paths import RATINGS, RATINGS_QUERY
from wix_pipelines_tests.emulator.helpers import app_code, ok


def seed_shape(attribute: str = "overall", value: int = 4, contact: str = "c-1") -> dict[str, object]:
    return {"namespace": "reviews", "group": "stores", "entityId": "prod-1", "attributeName": attribute,
            "value": value, "ratingOwner": {"contactId": contact}}  # fmt: skip


def test_create_with_seed_shape_answers_owner_and_string_revision(emulator_http: httpx.Client) -> None:
    rating = ok(emulator_http.post(RATINGS, json=seed_shape()))["rating"]
    assert rating["owner"] == {"contactId": "c-1"}
    assert rating["revision"] == "1"
    assert rating["value"] == 4
    assert ok(emulator_http.get(f"{RATINGS}/{rating['id']}"))["rating"] == rating


def test_wrapped_request_with_owner_is_accepted_too(emulator_http: httpx.Client) -> None:
    body = {
        "rating": {
            "group": "stores",
            "entityId": "p",
            "attributeName": "comfort",
            "value": 2,
            "owner": {"contactId": "c"},
        }
    }
    assert ok(emulator_http.post(RATINGS, json=body))["rating"]["attributeName"] == "comfort"


def test_one_rating_per_attribute_per_owner_else_409_duplicate_rating(emulator_http: httpx.Client) -> None:
    ok(emulator_http.post(RATINGS, json=seed_shape()))
    duplicate = emulator_http.post(
        RATINGS, json={"rating": {**seed_shape(value=1), "ratingOwner": None, "owner": {"contactId": "c-1"}}}
    )
    assert duplicate.status_code == 409
    assert app_code(duplicate) == "DUPLICATE_RATING"
    ok(emulator_http.post(RATINGS, json=seed_shape(attribute="value for money")))
    ok(emulator_http.post(RATINGS, json=seed_shape(contact="c-2")))


def test_update_and_delete_rating(emulator_http: httpx.Client) -> None:
    rating = ok(emulator_http.post(RATINGS, json=seed_shape()))["rating"]
    updated = ok(
        emulator_http.patch(
            f"{RATINGS}/{rating['id']}", json={"rating": {"id": rating["id"], "revision": "1", "value": 5}}
        )
    )
    assert updated["rating"]["value"] == 5 and updated["rating"]["revision"] == "2"
    stale = emulator_http.patch(f"{RATINGS}/{rating['id']}", json={"rating": {"revision": "1", "value": 3}})
    assert stale.status_code == 409
    assert ok(emulator_http.delete(f"{RATINGS}/{rating['id']}")) == {}
    assert emulator_http.get(f"{RATINGS}/{rating['id']}").status_code == 404
    ok(emulator_http.post(RATINGS, json=seed_shape()))  # the slot is free again


def test_query_ratings_pages_with_cursor_and_metadata(emulator_factory: Callable[..., RunningEmulator]) -> None:
    emulator = emulator_factory(contacts=60, reviews=0, ratings=250)
    client = httpx.Client(base_url=emulator.base_url, headers=emulator.api_key_headers())
    first_entity = next(iter(emulator.state.ratings.values()))["entityId"]
    body = {
        "query": {
            "filter": {"namespace": "reviews", "group": "stores", "entityId": first_entity},
            "cursorPaging": {"limit": 10},
        }
    }
    page = ok(client.post(RATINGS_QUERY, json=body))
    seen = [r["id"] for r in page["ratings"]]
    while cursor := page["metadata"]["cursors"]["next"]:
        page = ok(client.post(RATINGS_QUERY, json={"query": {"cursorPaging": {"limit": 10, "cursor": cursor}}}))
        seen += [r["id"] for r in page["ratings"]]
    expected = {r["id"] for r in emulator.state.ratings.values() if r["entityId"] == first_entity}
    assert len(seen) == len(expected) and set(seen) == expected
    everything = ok(
        client.post(
            RATINGS_QUERY,
            json={"query": {"filter": {"value": {"$gte": 1}}, "sort": [{"fieldName": "value", "order": "DESC"}]}},
        )
    )
    values = [r["value"] for r in everything["ratings"]]
    assert values == sorted(values, reverse=True)
