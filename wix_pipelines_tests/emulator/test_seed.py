"""Seed data (no server): deterministic, realistic, and shaped like the wire format."""

from __future__ import annotations

from collections import Counter

import orjson

from wix_pipelines.emulator.config import EmulatorConfig
from wix_pipelines.emulator.seed import (
    RATING_ATTRIBUTES,
    iter_seed_contacts,
    iter_seed_orders,
    iter_seed_ratings,
    iter_seed_review_requests,
    iter_seed_reviews,
    seed_products,
)
from wix_pipelines.emulator.state import EmulatorState


def test_same_seed_gives_identical_records_and_another_seed_differs() -> None:
    first = list(iter_seed_contacts(3, 200))
    assert first == list(iter_seed_contacts(3, 200))
    assert [c["id"] for c in first] != [c["id"] for c in iter_seed_contacts(4, 200)]
    products = [p["id"] for p in seed_products(3, 20)]
    ids = [c["id"] for c in first]
    assert list(iter_seed_reviews(3, 300, ids, products)) == list(iter_seed_reviews(3, 300, ids, products))


def test_contacts_do_not_depend_on_how_many_reviews_are_seeded() -> None:
    small = EmulatorState(EmulatorConfig(contacts=50, reviews=0))
    big = EmulatorState(EmulatorConfig(contacts=50, reviews=200, ratings=100))
    assert small.contacts.records == big.contacts.records


def test_more_than_1000_contacts_share_one_created_millisecond_at_5000() -> None:
    contacts = list(iter_seed_contacts(1, 5000))
    dates = Counter(c["createdDate"] for c in contacts)
    date, size = dates.most_common(1)[0]
    assert size > 1000
    assert all(c["source"]["sourceType"] == "IMPORT" for c in contacts if c["createdDate"] == date)
    created = sorted(dates)
    span_days = (int(created[-1][:4]) - int(created[0][:4])) * 365
    assert span_days >= 365  # spread over about two years


def test_small_seeds_still_have_a_shared_created_date() -> None:
    dates = Counter(c["createdDate"] for c in iter_seed_contacts(1, 20))
    assert dates.most_common(1)[0][1] >= 2


def test_contacts_are_realistic_and_about_1_6_kb() -> None:
    contacts = list(iter_seed_contacts(1, 2000))
    sizes = [len(orjson.dumps(c)) for c in contacts]
    assert 1300 < sum(sizes) / len(sizes) < 2000
    statuses = Counter(c.get("primaryEmail", {}).get("subscriptionStatus") for c in contacts)
    assert {"SUBSCRIBED", "UNSUBSCRIBED", "NOT_SET", "PENDING"} <= set(statuses)
    ext_status = "emailSubscriptions.subscriptionStatus"
    disagree = [
        c
        for c in contacts
        if "primaryEmail" in c
        and c["primaryEmail"]["subscriptionStatus"] != c["info"]["extendedFields"]["items"][ext_status]
    ]
    assert disagree, "some contacts are subscribed through only one of the two fields"
    assert any(c["updatedDate"] > c["createdDate"] for c in contacts)
    assert any(c["info"].get("labelKeys") for c in contacts)
    assert all(c["revision"] >= 1 and c["info"]["name"]["first"] for c in contacts)
    assert len({c["primaryInfo"].get("email") for c in contacts if c["primaryInfo"].get("email")}) == sum(
        1 for c in contacts if c["primaryInfo"].get("email")
    )


def test_reviews_are_j_shaped_with_media_votes_and_moderation_mix() -> None:
    contacts = [c["id"] for c in iter_seed_contacts(1, 500)]
    products = [p["id"] for p in seed_products(1, 50)]
    reviews = list(iter_seed_reviews(1, 3000, contacts, products))
    ratings = Counter(r["content"]["rating"] for r in reviews)
    assert ratings[5] > ratings[4] > ratings[3] and ratings[1] > ratings[2]
    media = [m for r in reviews for m in r["content"]["media"]]
    assert any("image" in m for m in media) and any("video" in m for m in media)
    assert any(len(r["content"]["media"]) > 1 for r in reviews)
    assert all(r["helpfulness"] == r["foundHelpful"] - r["foundUnhelpful"] for r in reviews)
    assert any(r["helpfulness"] < 0 for r in reviews)
    assert {r["moderation"]["moderationStatus"] for r in reviews} == {"APPROVED", "IN_MODERATION", "REJECTED"}
    assert any("reply" in r for r in reviews)
    keys = [(r["entityId"], r["author"]["contactId"]) for r in reviews]
    assert len(keys) == len(set(keys))
    assert set(r["entityId"] for r in reviews) <= set(products)


def test_ratings_are_one_per_attribute_per_owner_per_entity() -> None:
    contacts = [c["id"] for c in iter_seed_contacts(1, 300)]
    products = [p["id"] for p in seed_products(1, 30)]
    ratings = list(iter_seed_ratings(1, 2000, contacts, products))
    assert len(ratings) == 2000
    keys = [(r["entityId"], r["attributeName"], r["owner"]["contactId"]) for r in ratings]
    assert len(keys) == len(set(keys))
    assert {r["attributeName"] for r in ratings} == set(RATING_ATTRIBUTES)
    assert all(1 <= r["value"] <= 5 for r in ratings)


def test_orders_and_review_requests_cover_every_status() -> None:
    products = seed_products(1, 30)
    orders = list(iter_seed_orders(1, 300, products))
    assert all(0 <= len(o["items"]) <= 8 for o in orders) and any(not o["items"] for o in orders)
    requests = list(iter_seed_review_requests(1, 400, orders, ["c-1", "c-2"]))
    assert {r["status"] for r in requests} == {
        "SENT",
        "SCHEDULED",
        "CANCELED",
        "FAILED",
        "UNKNOWN_REVIEW_REQUEST_STATUS",
    }
    assert all(1 <= len(r["items"]) <= 5 for r in requests)
