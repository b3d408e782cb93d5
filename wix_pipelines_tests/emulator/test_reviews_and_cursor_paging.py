"""Reviews v1 (SPEC.md §5) and cursor paging (§2.7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from wix_pipelines.emulator.server import RunningEmulator
from wix_pipelines_tests.emulator.helpers import app_code, new_contact, ok

BASE = "/reviews/v1/reviews"


def review_body(contact_id: str, entity: str = "prod-1", rating: int = 5, **extra: Any) -> dict[str, Any]:
    return {
        "review": {
            "namespace": "stores",
            "entityId": entity,
            "author": {"contactId": contact_id, "authorName": "Dana T."},
            "content": {
                "rating": rating,
                "title": "Nice",
                "body": "Works",
                "media": [{"image": {"url": "https://x/1.jpg"}}],
            },
            **extra,
        }
    }


def client_for(emulator: RunningEmulator) -> httpx.Client:
    return httpx.Client(base_url=emulator.base_url, headers=emulator.api_key_headers(), timeout=30)


def test_created_review_has_wire_shape_and_string_revision(emulator_http: httpx.Client) -> None:
    contact = new_contact(emulator_http)
    review = ok(emulator_http.post(BASE, json=review_body(contact["id"])))["review"]
    assert review["revision"] == "1"
    assert review["moderation"] == {"moderationStatus": "APPROVED", "manuallyChanged": False}
    assert review["helpfulness"] == review["foundHelpful"] - review["foundUnhelpful"] == 0
    assert review["content"]["media"] == [{"image": {"url": "https://x/1.jpg"}}]
    assert ok(emulator_http.get(f"{BASE}/{review['id']}", params={"reviewId": review["id"]}))["review"] == review


def test_second_review_of_same_entity_by_same_contact_is_409_duplicate_review(emulator_http: httpx.Client) -> None:
    contact = new_contact(emulator_http)
    ok(emulator_http.post(BASE, json=review_body(contact["id"])))
    duplicate = emulator_http.post(BASE, json=review_body(contact["id"], rating=1))
    assert duplicate.status_code == 409
    assert app_code(duplicate) == "DUPLICATE_REVIEW"
    ok(emulator_http.post(BASE, json=review_body(contact["id"], entity="prod-2")))


def test_rating_outside_1_to_5_is_a_validation_error(emulator_http: httpx.Client) -> None:
    response = emulator_http.post(BASE, json=review_body("c-1", rating=6))
    assert response.status_code == 400
    assert response.json()["details"]["validationError"]["fieldViolations"][0]["field"] == "review.content.rating"


def test_private_reviews_are_hidden_unless_asked_for(emulator_factory: Callable[..., RunningEmulator]) -> None:
    emulator = emulator_factory(initial_moderation="IN_MODERATION")
    client = client_for(emulator)
    review = ok(client.post(BASE, json=review_body("c-1")))["review"]
    assert review["moderation"]["moderationStatus"] == "IN_MODERATION"
    assert client.get(f"{BASE}/{review['id']}").status_code == 404
    ok(client.get(f"{BASE}/{review['id']}", params={"returnPrivateReviews": "true"}))
    assert ok(client.post(f"{BASE}/query", json={"query": {}}))["reviews"] == []
    private = ok(client.post(f"{BASE}/query", json={"query": {}, "returnPrivateReviews": True}))
    assert [r["id"] for r in private["reviews"]] == [review["id"]]
    assert ok(client.post(f"{BASE}/count", json={"includePrivateReviews": True})) == {"count": 1}


def test_update_needs_current_revision(emulator_http: httpx.Client) -> None:
    review = ok(emulator_http.post(BASE, json=review_body("c-1")))["review"]
    path = f"{BASE}/{review['id']}"
    patch = {
        "review": {"id": review["id"], "revision": "1", "content": {"rating": 3, "body": "Changed"}, "foundHelpful": 99}
    }
    updated = ok(emulator_http.patch(path, json=patch))["review"]
    assert updated["revision"] == "2"
    assert updated["content"]["rating"] == 3 and updated["content"]["body"] == "Changed"
    assert updated["content"]["title"] == "Nice"
    assert updated["foundHelpful"] == 0  # read-only fields are ignored
    stale = emulator_http.patch(path, json=patch)
    assert stale.status_code == 409
    assert app_code(stale) == "REVISION_MISMATCH"


def test_moderation_sets_manually_changed_and_fires_events(
    emulator_http: httpx.Client, emulator: RunningEmulator
) -> None:
    review = ok(emulator_http.post(BASE, json=review_body("c-1")))["review"]
    rejected = ok(
        emulator_http.patch(f"{BASE}/{review['id']}/moderate", json={"reviewId": review["id"], "status": "REJECTED"})
    )
    assert rejected["review"]["moderation"] == {"moderationStatus": "REJECTED", "manuallyChanged": True}
    ok(emulator_http.patch(f"{BASE}/{review['id']}/moderate", json={"status": "APPROVED"}))
    types = [e["eventType"].rsplit(".", 1)[1] for e, _ in emulator.state.events[-3:]]
    assert types == ["review_moderation_status_changed", "review_moderation_status_changed", "review_review_published"]
    bad = emulator_http.patch(f"{BASE}/{review['id']}/moderate", json={"status": "MAYBE"})
    assert bad.status_code == 400


def test_reply_is_set_overwritten_and_removed(emulator_http: httpx.Client) -> None:
    review = ok(emulator_http.post(BASE, json=review_body("c-1")))["review"]
    path = f"{BASE}/{review['id']}/reply"
    first = ok(emulator_http.patch(path, json={"reviewId": review["id"], "message": "Thanks!"}))["review"]["reply"]
    second = ok(emulator_http.patch(path, json={"message": "Thanks again"}))["review"]["reply"]
    assert second["message"] == "Thanks again" and second["createdDate"] == first["createdDate"]
    assert "reply" not in ok(emulator_http.delete(path))["review"]


def test_delete_answers_the_deleted_review(emulator_http: httpx.Client) -> None:
    review = ok(emulator_http.post(BASE, json=review_body("c-1")))["review"]
    assert ok(emulator_http.delete(f"{BASE}/{review['id']}"))["review"]["id"] == review["id"]
    assert emulator_http.get(f"{BASE}/{review['id']}", params={"returnPrivateReviews": True}).status_code == 404


def test_bulk_create_reports_each_item(emulator_http: httpx.Client) -> None:
    reviews = [review_body("c-9", entity="p-1")["review"], review_body("c-9", entity="p-1")["review"]]
    body = ok(emulator_http.post("/reviews/v1/bulk/reviews/create", json={"reviews": reviews, "returnEntity": True}))
    assert body["bulkActionMetadata"] == {"totalSuccesses": 1, "totalFailures": 1, "undetailedFailures": 0}
    assert body["results"][0]["itemMetadata"]["success"] is True and body["results"][0]["review"]["entityId"] == "p-1"
    assert body["results"][1]["itemMetadata"]["error"]["code"] == "DUPLICATE_REVIEW"


def test_cursor_follow_ups_carry_only_the_cursor_and_every_record_comes_once(
    emulator_factory: Callable[..., RunningEmulator],
) -> None:
    emulator = emulator_factory(contacts=200, reviews=600)
    client = client_for(emulator)
    flt = {"content.rating": {"$gte": 4}}
    page = ok(
        client.post(
            f"{BASE}/query",
            json={
                "query": {
                    "filter": flt,
                    "sort": [{"fieldName": "createdDate", "order": "DESC"}],
                    "cursorPaging": {"limit": 100},
                },
                "returnPrivateReviews": True,
            },
        )
    )
    seen = [r["id"] for r in page["reviews"]]
    pages = 1
    while page["metadata"]["cursors"]["next"]:
        cursor = page["metadata"]["cursors"]["next"]
        page = ok(client.post(f"{BASE}/query", json={"query": {"cursorPaging": {"cursor": cursor, "limit": 100}}}))
        seen += [r["id"] for r in page["reviews"]]
        pages += 1
    assert page["metadata"]["cursors"]["next"] is None
    expected = [
        r["id"]
        for r in sorted(emulator.state.reviews.values(), key=lambda r: (r["createdDate"], r["id"]), reverse=True)
        if r["content"]["rating"] >= 4
    ]
    assert seen == expected
    assert pages > 3


def test_cursor_paging_survives_inserts_and_deletes_between_pages(
    emulator_factory: Callable[..., RunningEmulator],
) -> None:
    emulator = emulator_factory(contacts=50, reviews=120)
    client = client_for(emulator)
    page = ok(
        client.post(f"{BASE}/query", json={"query": {"cursorPaging": {"limit": 50}}, "returnPrivateReviews": True})
    )
    seen = [r["id"] for r in page["reviews"]]
    ok(client.delete(f"{BASE}/{seen[0]}"))  # already served: must not shift later pages
    late = ok(client.post(BASE, json=review_body("late-contact")))["review"]  # newest: belongs at the end
    while cursor := page["metadata"]["cursors"]["next"]:
        page = ok(client.post(f"{BASE}/query", json={"query": {"cursorPaging": {"cursor": cursor, "limit": 50}}}))
        seen += [r["id"] for r in page["reviews"]]
    assert len(seen) == len(set(seen)) == 121
    assert seen[-1] == late["id"]


def test_seeded_reviews_share_created_dates_and_cursor_paging_splits_ties_cleanly(
    emulator_factory: Callable[..., RunningEmulator],
) -> None:
    emulator = emulator_factory(contacts=100, reviews=1000)
    client = client_for(emulator)
    seen: list[str] = []
    query: dict[str, Any] = {"query": {"cursorPaging": {"limit": 7}}, "returnPrivateReviews": True}
    while True:
        page = ok(client.post(f"{BASE}/query", json=query))
        seen += [r["id"] for r in page["reviews"]]
        if not page["metadata"]["cursors"]["next"]:
            break
        query = {"query": {"cursorPaging": {"cursor": page["metadata"]["cursors"]["next"], "limit": 100}}}
    assert sorted(seen) == sorted(emulator.state.reviews.records)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"cursorPaging": {"limit": 101}}, "ILLEGAL_LIMIT"),
        ({"cursorPaging": {"cursor": "garbage"}}, "INVALID_CURSOR"),
        ({"filter": {"entityId": "x"}, "cursorPaging": {"cursor": "garbage"}}, "CURSOR_WITH_FILTER"),
        ({"filter": {"author.contactId": {"$gt": "x"}}}, "UNSUPPORTED_FILTER_OPERATOR"),
        ({"filter": {"title": "x"}}, "UNSUPPORTED_FILTER_FIELD"),
        ({"sort": [{"fieldName": "entityId"}]}, "UNSUPPORTED_SORT_FIELD"),
    ],
)
def test_invalid_review_queries_are_400(emulator_http: httpx.Client, query: dict[str, Any], code: str) -> None:
    response = emulator_http.post(f"{BASE}/query", json={"query": query})
    assert response.status_code == 400
    assert app_code(response) == code


def test_review_filters_by_media_and_helpfulness(emulator_factory: Callable[..., RunningEmulator]) -> None:
    emulator = emulator_factory(contacts=100, reviews=400)
    client = client_for(emulator)
    body = {
        "query": {"filter": {"content.media": {"$isEmpty": False}}, "cursorPaging": {"limit": 100}},
        "returnPrivateReviews": True,
    }
    with_media = ok(client.post(f"{BASE}/query", json=body))["reviews"]
    assert with_media and all(r["content"]["media"] for r in with_media)
    body = {
        "query": {"filter": {"helpfulness": {"$lt": 0}}, "sort": [{"fieldName": "helpfulness"}]},
        "returnPrivateReviews": True,
    }
    negative = ok(client.post(f"{BASE}/query", json=body))["reviews"]
    assert negative and all(r["helpfulness"] < 0 for r in negative)
    assert [r["helpfulness"] for r in negative] == sorted(r["helpfulness"] for r in negative)
