"""The typed API groups against the emulator: each call's wire shape is accepted and its answer parsed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wix_pipelines.emulator.server import RunningEmulator
from wix_pipelines.wix import (
    ApiKeyAuth,
    Contact,
    Filter,
    Query,
    Review,
    ReviewRequest,
    Sort,
    WixClient,
    WixConflictError,
    WixNotFoundError,
    WixPreconditionError,
)

from .conftest import FAST_RETRY


@pytest.fixture
def wix(emulator: RunningEmulator) -> Iterator[WixClient]:
    """A client on the shared conftest's seeded emulator (20 contacts, 30 reviews, 30 ratings, 5 requests)."""
    auth = ApiKeyAuth(emulator.config.api_key, site_id=emulator.config.site_id)
    with WixClient(emulator.base_url, auth=auth, retry=FAST_RETRY, rate_limit_per_minute=None) as client:
        yield client


def _new_contact(wix: WixClient, email: str = "dana@example.org") -> Contact:
    return wix.contacts.create(
        {"name": {"first": "Dana", "last": "Tester"}, "emails": {"items": [{"email": email, "tag": "MAIN"}]}}
    )


def test_contacts_create_get_update_label_and_delete(wix: WixClient) -> None:
    created = _new_contact(wix)
    assert created.id and created.revision == 1 and created.created_date is not None
    assert wix.contacts.get(created.id).email == "dana@example.org"
    found = wix.contacts.find_by_email("dana@example.org")
    assert found is not None and found.id == created.id
    assert wix.contacts.find_by_email("nobody@example.org") is None

    updated = wix.contacts.update(created.id, 1, {"company": "Acme", "name": {"first": "Dana", "last": "T."}})
    assert updated.revision == 2 and updated.info is not None and updated.info.company == "Acme"
    with pytest.raises(WixConflictError) as stale:
        wix.contacts.update(created.id, 1, {"company": "Stale Inc"})
    assert stale.value.is_stale_revision

    labelled = wix.contacts.label(created.id, ["custom.vip"])
    assert "custom.vip" in labelled.label_keys
    assert "custom.vip" not in wix.contacts.unlabel(created.id, ["custom.vip"]).label_keys

    wix.contacts.delete(created.id)
    with pytest.raises(WixNotFoundError):
        wix.contacts.get(created.id)


def test_contacts_merge_keeps_the_target(wix: WixClient) -> None:
    target = _new_contact(wix, "a@example.org")
    source = _new_contact(wix, "b@example.org")
    merged = wix.contacts.merge(target.id or "", target.revision or 0, [source.id or ""])
    assert merged.id == target.id
    assert {e.email for e in merged.emails} >= {"a@example.org", "b@example.org"}


def test_contacts_list_and_query_page_through_the_seed(wix: WixClient) -> None:
    listed = [c for p in wix.contacts.list_pages(sort=Sort("createdDate"), page_size=7) for c in p.items]
    assert len(listed) == 20 and len({c["id"] for c in listed}) == 20
    queried = [c for p in wix.contacts.query_pages(page_size=6) for c in p.items]
    assert {c["id"] for c in queried} == {c["id"] for c in listed}
    assert len(list(wix.contacts.iter_created_since(None, page_size=3))) >= 7


def test_extended_fields_find_or_create_is_idempotent_by_name(wix: WixClient) -> None:
    first = wix.extended_fields.find_or_create("externalCrmId")
    again = wix.extended_fields.find_or_create("externalCrmId", "TEXT")
    assert first.new_field is True and again.new_field is False
    assert first.key == again.key and (first.key or "").startswith("custom.")
    assert first.key in {f.key for f in wix.extended_fields.list()}


def test_reviews_create_moderate_reply_update_count_and_delete(wix: WixClient) -> None:
    contact = _new_contact(wix, "reviewer@example.org")
    review = wix.reviews.create(
        Review.model_validate(
            {
                "namespace": "stores",
                "entityId": "prod-new",
                "author": {"contactId": contact.id, "authorName": "Dana T."},
                "content": {"title": "Solid", "body": "Boils fast", "rating": 4, "media": []},
            }
        )
    )
    assert review.id and review.revision == "1" and review.content is not None and review.content.rating == 4
    with pytest.raises(WixConflictError) as dup:
        wix.reviews.create(
            {
                "namespace": "stores",
                "entityId": "prod-new",
                "author": {"contactId": contact.id},
                "content": {"rating": 2},
            }
        )
    assert dup.value.code == "DUPLICATE_REVIEW"

    moderated = wix.reviews.moderate(review.id, "REJECTED")
    assert moderated.moderation is not None and moderated.moderation.moderation_status == "REJECTED"
    replied = wix.reviews.set_reply(review.id, "Thanks!")
    assert replied.reply is not None and replied.reply.message == "Thanks!"
    fresh = wix.reviews.get(review.id, return_private=True)
    changed = wix.reviews.update(
        review.id,
        fresh.revision or "",
        {"content": {"title": "Very solid", "rating": 5}},
        field_mask=["content.title", "content.rating"],
    )
    assert changed.content is not None and changed.content.title == "Very solid"
    assert wix.reviews.count(Filter.eq("entityId", "prod-new")) == 1
    wix.reviews.delete(review.id)
    with pytest.raises(WixNotFoundError):
        wix.reviews.get(review.id)


def test_reviews_query_pages_by_cursor_and_bulk_create(wix: WixClient) -> None:
    seeded = [r for p in wix.reviews.query_pages(page_size=7) for r in p.models()]
    assert len(seeded) == 30 and all(isinstance(r, Review) for r in seeded)
    contact = _new_contact(wix, "bulk@example.org")
    result = wix.reviews.bulk_create(
        [
            {
                "namespace": "stores",
                "entityId": f"bulk-{i}",
                "author": {"contactId": contact.id},
                "content": {"rating": 5},
            }
            for i in range(3)
        ]
    )
    assert result.bulk_action_metadata is not None and result.bulk_action_metadata.total_successes == 3
    assert all(r.entity and r.entity.get("entityId", "").startswith("bulk-") for r in result.results)


def test_ratings_create_in_the_seed_shape_query_and_delete(wix: WixClient) -> None:
    contact = _new_contact(wix, "rater@example.org")
    rating = wix.ratings.create(
        namespace="reviews",
        group="stores",
        entity_id="prod-1",
        attribute_name="overall",
        value=4,
        contact_id=contact.id or "",
    )
    assert rating.owner is not None and rating.owner.contact_id == contact.id and rating.value == 4
    with pytest.raises(WixConflictError) as dup:
        wix.ratings.create(
            namespace="reviews",
            group="stores",
            entity_id="prod-1",
            attribute_name="overall",
            value=2,
            contact_id=contact.id or "",
        )
    assert dup.value.code == "DUPLICATE_RATING"
    assert wix.ratings.update(rating.id or "", rating.revision or "1", value=5).value == 5
    assert wix.ratings.get(rating.id or "").revision == "2"
    mine = [r for p in wix.ratings.query_pages(Query(filter=Filter.eq("entityId", "prod-1"))) for r in p.items]
    assert rating.id in {r["id"] for r in mine}
    assert len([r for p in wix.ratings.query_pages(page_size=9) for r in p.items]) == 31
    wix.ratings.delete(rating.id or "")
    with pytest.raises(WixNotFoundError):
        wix.ratings.get(rating.id or "")


def test_review_requests_create_get_query_cancel_and_delete(wix: WixClient, emulator: RunningEmulator) -> None:
    contact = _new_contact(wix, "buyer@example.org")
    request = wix.review_requests.create(
        ReviewRequest.model_validate(
            {
                "namespace": "stores",
                "items": [{"catalogItemId": "prod-1"}],
                "recipient": {"contactId": contact.id},
            }
        )
    )
    assert request.id and request.status == "SCHEDULED" and request.communication_channel == "EMAIL"
    assert wix.review_requests.get(request.id).items[0].catalog_item_id == "prod-1"
    with pytest.raises(WixPreconditionError) as missing_order:
        wix.review_requests.create(
            {"namespace": "stores", "order": {"id": "no-such-order"}, "recipient": {"contactId": contact.id}}
        )
    assert missing_order.value.code == "ORDER_NOT_FOUND"
    with pytest.raises(WixPreconditionError):
        wix.review_requests.delete(request.id)  # only CANCELED requests may be deleted
    wix.review_requests.cancel_by_filter(Filter.eq("id", request.id))
    wix.review_requests.delete(request.id)
    with pytest.raises(WixNotFoundError):
        wix.review_requests.get(request.id)
    listed = [r for p in wix.review_requests.query_pages(page_size=2) for r in p.items]
    assert len(listed) == wix.review_requests.count() == 5
    bulk = wix.review_requests.bulk_create(
        [
            {
                "namespace": "stores",
                "items": [{"catalogItemId": f"p{i}"}],
                "recipient": {"contactId": contact.id},
            }
            for i in range(2)
        ]
    )
    assert [r.item_metadata.success for r in bulk.results if r.item_metadata] == [True, True]
    assert all(r.entity and r.entity["recipient"]["contactId"] == contact.id for r in bulk.results)
