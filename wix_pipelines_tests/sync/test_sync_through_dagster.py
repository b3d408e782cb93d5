"""The two-way sync end to end: emulators on loopback, real sensors, real jobs, real DuckDB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import SyncHarness, sync_harness


@pytest.fixture
def h(tmp_path: Path) -> Iterator[SyncHarness]:
    with sync_harness(tmp_path) as harness:
        yield harness


def test_wix_contact_changes_arrive_externally_exactly_once_with_no_echo(h: SyncHarness) -> None:
    with h.wix_user() as wix:
        contact = wix.post(
            "/contacts/v4/contacts",
            json={"info": {"name": {"first": "Ada"}, "emails": {"items": [{"email": "ada@example.org"}]}}},
        ).json()["contact"]
    wix_writes_by_user = 1
    h.settle()
    [ext] = h.external.state.live("contacts")
    assert ext["fields"] == {"email": "ada@example.org", "firstName": "Ada"}
    assert h.external_sync_writes() == 1
    # On Wix: the person's create, the externalCrmId field (find-or-create) and its value on the contact. The
    # webhooks of the sync's own two writes came back and were recognised as echoes: no third write.
    assert h.wix_writes() == wix_writes_by_user + 2
    echoes = h.query("SELECT count(*) FROM sync_diffs WHERE op = 'echo'")[0][0]
    assert echoes >= 1

    with h.wix_user() as wix:
        wix.patch(
            f"/contacts/v4/contacts/{contact['id']}",
            json={"revision": contact["revision"] + 1, "info": {"name": {"first": "Ada", "last": "Lovelace"}}},
        ).raise_for_status()
    before = h.wix_writes()
    h.settle()
    assert h.external.state.get("contacts", ext["id"])["fields"]["lastName"] == "Lovelace"
    assert h.external_sync_writes() == 2
    assert h.wix_writes() == before  # nothing came back

    with h.wix_user() as wix:
        wix.delete(f"/contacts/v4/contacts/{contact['id']}").raise_for_status()
    h.settle()
    assert h.external.state.live("contacts") == []
    assert h.external_sync_writes() == 3
    assert h.wix_writes() == before + 1
    # The warehouse saw the deletion too.
    assert h.query("SELECT deleted_at IS NOT NULL FROM contacts WHERE id = ?", [contact["id"]]) == [(True,)]


def test_external_contact_changes_arrive_on_wix_exactly_once_with_no_echo(h: SyncHarness) -> None:
    ext_id = h.ext_create("contacts", email="grace@example.org", firstName="Grace")
    h.settle()
    [wix_contact] = list(h.wix.state.contacts.values())
    assert wix_contact["primaryInfo"]["email"] == "grace@example.org"
    assert wix_contact["info"]["name"] == {"first": "Grace"}
    assert wix_contact["info"]["extendedFields"]["items"]["custom.externalcrmid"] == ext_id
    assert h.external_sync_writes() == 0
    assert h.wix_writes() == 2  # the externalCrmId field, and the contact created with its value in one call

    h.ext_update("contacts", ext_id, lastName="Hopper")
    h.settle()
    assert h.wix.state.contacts.get(wix_contact["id"])["info"]["name"] == {"first": "Grace", "last": "Hopper"}
    assert h.wix_writes() == 3
    h.ext_delete("contacts", ext_id)
    h.settle()
    assert h.wix.state.contacts.get(wix_contact["id"]) is None
    assert h.wix_writes() == 4
    assert h.external_sync_writes() == 0
    assert h.query("SELECT deleted_at IS NOT NULL FROM contacts WHERE id = ?", [wix_contact["id"]]) == [(True,)]


def _wix_contact(h: SyncHarness, email: str, first: str = "Pat") -> dict:
    with h.wix_user() as wix:
        response = wix.post(
            "/contacts/v4/contacts", json={"info": {"name": {"first": first}, "emails": {"items": [{"email": email}]}}}
        )
        response.raise_for_status()
        return response.json()["contact"]


def test_reviews_and_ratings_cross_both_ways_including_moderation(h: SyncHarness) -> None:
    contact = _wix_contact(h, "rev@example.org")
    with h.wix_user() as wix:
        review = wix.post(
            "/reviews/v1/reviews",
            json={
                "review": {
                    "namespace": "stores",
                    "entityId": "prod-1",
                    "author": {"contactId": contact["id"]},
                    "content": {"rating": 4, "title": "Good"},
                }
            },
        ).json()["review"]
    h.settle()
    ext_contact = h.external.state.find("contacts", {"email": "rev@example.org"})
    [ext_review] = h.external.state.live("reviews")
    assert ext_review["fields"] == {
        "productId": "prod-1",
        "authorId": ext_contact["id"],
        "rating": 4,
        "title": "Good",
        "status": "APPROVED",
    }
    with h.wix_user() as wix:
        wix.patch(f"/reviews/v1/reviews/{review['id']}/moderate", json={"status": "REJECTED"}).raise_for_status()
    h.settle()
    assert h.external.state.get("reviews", ext_review["id"])["fields"]["status"] == "REJECTED"

    wix_writes = h.wix_writes()
    rating_id = h.ext_create("ratings", productId="prod-1", attribute="fit", ownerId=ext_contact["id"], value=5)
    h.settle()
    [rating] = list(h.wix.state.ratings.values())
    assert (rating["entityId"], rating["attributeName"], rating["value"], rating["owner"]["contactId"]) == (
        "prod-1",
        "fit",
        5,
        contact["id"],
    )
    h.ext_update("ratings", rating_id, value=2)
    h.settle()
    assert h.wix.state.ratings.get(rating["id"])["value"] == 2
    assert h.wix_writes() == wix_writes + 2  # one create, one update: no echo, no copy
    with h.wix_user() as wix:
        wix.post(
            "/ratings/v1/ratings",
            json={
                "namespace": "reviews",
                "group": "stores",
                "entityId": "prod-1",
                "attributeName": "value",
                "value": 3,
                "ratingOwner": {"contactId": contact["id"]},
            },
        ).raise_for_status()
    h.settle()
    ext_ratings = {r["fields"]["attribute"]: r["fields"] for r in h.external.state.live("ratings")}
    assert ext_ratings["value"] == {
        "productId": "prod-1",
        "attribute": "value",
        "ownerId": ext_contact["id"],
        "value": 3,
    }
    assert h.query("SELECT count(*) FROM ratings WHERE owner_contact_id = ?", [contact["id"]]) == [(2,)]
    h.ext_update("reviews", ext_review["id"], title="Changed my mind", rating=2)
    h.settle()
    content = h.wix.state.reviews.get(review["id"])["content"]
    assert (content["rating"], content["title"]) == (2, "Changed my mind")
    with h.wix_user() as wix:
        wix.delete(f"/reviews/v1/reviews/{review['id']}").raise_for_status()
    h.settle()
    assert h.external.state.live("reviews") == []
    assert h.query("SELECT deleted_at IS NOT NULL FROM reviews WHERE id = ?", [review["id"]]) == [(True,)]


def test_duplicate_review_and_rating_from_the_external_side_are_skipped_with_the_reason(h: SyncHarness) -> None:
    contact = _wix_contact(h, "dup@example.org")
    h.settle()
    ext_author = h.external.state.find("contacts", {"email": "dup@example.org"})["id"]
    # The contact reviews and rates the product on Wix while the webhooks are down (nothing synced yet)...
    h.wix.state.set_webhook_url(None)
    with h.wix_user() as wix:
        wix.post(
            "/reviews/v1/reviews",
            json={
                "review": {
                    "namespace": "stores",
                    "entityId": "prod-9",
                    "author": {"contactId": contact["id"]},
                    "content": {"rating": 5},
                }
            },
        ).raise_for_status()
        wix.post(
            "/ratings/v1/ratings",
            json={
                "namespace": "reviews",
                "group": "stores",
                "entityId": "prod-9",
                "attributeName": "overall",
                "value": 5,
                "ratingOwner": {"contactId": contact["id"]},
            },
        ).raise_for_status()
    # ... and the same person's review and rating of it arrive from the external system.
    h.ext_create("reviews", productId="prod-9", authorId=ext_author, rating=1, title="Imported")
    h.ext_create("ratings", productId="prod-9", attribute="overall", ownerId=ext_author, value=1)
    wix_writes = h.wix_writes()
    [run] = h.tick_external().runs
    assert h.wix_writes() == wix_writes
    assert len(h.wix.state.reviews) == 1 and len(h.wix.state.ratings) == 1
    reasons = [r for (r,) in h.query("SELECT reason FROM sync_diffs WHERE op = 'skip' ORDER BY kind DESC")]
    assert reasons[0].startswith("DUPLICATE_REVIEW: Wix contact") and "prod-9" in reasons[0]
    assert reasons[1].startswith("DUPLICATE_RATING: Wix contact") and "'overall'" in reasons[1]
    output = run.output_for_node("push_external_changes")
    assert output["skipped"] == 2
    logged = [entry.user_message for entry in h.instance.all_logs(run.run_id)]
    assert any("DUPLICATE_REVIEW" in message for message in logged)
    assert any("DUPLICATE_RATING" in message for message in logged)


def test_forged_expired_replayed_and_truncated_webhooks_are_rejected_and_nothing_is_pushed(h: SyncHarness) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from wix_pipelines_tests.webhooks.test_receiver import post, signed, tampered

    good = signed(h.wix, event_id="evt-once")
    assert post(h.receiver, good).status_code == 200
    h.tick_wix()  # the genuine event (a deleted, unknown contact) is handled: nothing to push
    bodies = {
        "forged": signed(h.wix, key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "expired": signed(h.wix, iat=1_000_000_000),
        "replayed": good,
        "truncated": good[: len(good) - 30],
        "tampered": tampered(signed(h.wix)),
    }
    statuses = {name: post(h.receiver, body).status_code for name, body in bodies.items()}
    # A cut-off JWT is undecodable (400) or its signature no longer matches (401), depending on where it ends.
    assert statuses.pop("truncated") in (400, 401)
    assert statuses == {"forged": 401, "expired": 401, "replayed": 409, "tampered": 401}
    tick = h.tick_wix()
    assert tick.runs == [] and tick.skip_reason
    assert h.external.state.write_count() == 0


def test_a_push_that_fails_halfway_and_is_retried_leaves_no_duplicates(h: SyncHarness) -> None:
    from wix_pipelines.emulator.external import Fault

    h.external_max_attempts = 1  # let the fault fail the run instead of being retried away inside it
    for i in range(4):
        _wix_contact(h, f"p{i}@example.org", first=f"P{i}")
    # The third create is stored by the external system, but its answer is lost: the worst case.
    h.external.state.add_fault(Fault(mode="after", skip=2, count=1, kind="contacts", op="create"))
    [failed] = h.tick_wix(raise_on_error=False).runs
    assert not failed.success
    assert len(h.external.state.live("contacts")) == 3
    [retried] = h.retry_failed()
    assert retried.success
    h.settle()
    emails = sorted(r["fields"]["email"] for r in h.external.state.live("contacts"))
    assert emails == [f"p{i}@example.org" for i in range(4)]
    assert h.query("SELECT count(*), count(DISTINCT external_id) FROM sync_map WHERE kind = 'contacts'") == [(4, 4)]

    # Now the other way: the contact is created on Wix, then Wix fails the reviews (HTTP 500, no client retry).
    author = h.ext_create("contacts", email="q@example.org")
    reviews = [h.ext_create("reviews", productId=f"prod-{i}", authorId=author, rating=3) for i in range(2)]
    h.wix.state.faults.inject(500, count=1, path_prefix="/reviews/v1/reviews")
    [failed] = h.tick_external(raise_on_error=False).runs
    assert not failed.success
    assert len(h.wix.state.contacts) == 5 and len(h.wix.state.reviews) == 0
    assert all(r.success for r in h.retry_failed())
    h.settle()
    assert len(h.wix.state.contacts) == 5
    assert sorted(r["entityId"] for r in h.wix.state.reviews.values()) == ["prod-0", "prod-1"]
    mapped = h.query(
        "SELECT count(DISTINCT wix_id) FROM sync_map WHERE kind = 'reviews' AND external_id IN (?, ?)", reviews
    )
    assert mapped == [(2,)]


def test_external_crm_id_set_on_first_sync_never_changes(h: SyncHarness, tmp_path: Path) -> None:
    contact = _wix_contact(h, "keep@example.org")
    h.settle()
    first_ext_id = h.external.state.find("contacts", {"email": "keep@example.org"})["id"]
    stored = h.wix.state.contacts.get(contact["id"])["info"]["extendedFields"]["items"]["custom.externalcrmid"]
    assert stored == first_ext_id
    # The external system replaces the person's record (a new id) while the sync's mappings are lost (a
    # rebuilt warehouse): the next full reconciliation links the contact to the new id by email...
    h.wix.state.set_webhook_url(None)
    h.ext_delete("contacts", first_ext_id)
    new_ext_id = h.ext_create("contacts", email="keep@example.org", firstName="Pat", lastName="New")
    h.warehouse_path.unlink()
    h.reconcile()
    assert h.query("SELECT external_id FROM sync_map WHERE wix_id = ?", [contact["id"]]) == [(new_ext_id,)]
    after = h.wix.state.contacts.get(contact["id"])
    assert after["info"]["name"]["last"] == "New"  # content did sync
    # ... and externalCrmId still holds the id written on the first sync.
    assert after["info"]["extendedFields"]["items"]["custom.externalcrmid"] == first_ext_id
    h.ext_update("contacts", new_ext_id, firstName="Patricia")
    h.settle()
    h.reconcile()
    final = h.wix.state.contacts.get(contact["id"])
    assert final["info"]["name"]["first"] == "Patricia"
    assert final["info"]["extendedFields"]["items"]["custom.externalcrmid"] == first_ext_id


def test_scheduled_reconciliation_catches_changes_whose_events_were_missed(h: SyncHarness) -> None:
    h.wix.state.set_webhook_url(None)  # the receiver was down: no event for these
    contact = _wix_contact(h, "missed@example.org")
    ext_id = h.ext_create("contacts", email="other@example.org", firstName="Other")
    h.external_cursor = "999"  # and the feed position moved past the external change
    assert h.settle() == 0
    h.pull_wix()  # the hourly ingestion brings the Wix contact into the warehouse
    result = h.reconcile()  # warehouse vs external
    assert result.success
    assert h.external.state.find("contacts", {"email": "missed@example.org"}) is not None
    assert {c["primaryInfo"]["email"] for c in h.wix.state.contacts.values()} == {
        "missed@example.org",
        "other@example.org",
    }
    metadata = result.output_for_node("reconcile_sync")
    assert metadata["writes"] >= 2
    # A second reconciliation finds nothing to do, and spends no Wix call on pairs that are in step.
    h.pull_wix()
    writes, calls = (h.wix_writes(), h.external_sync_writes()), h.wix_api_calls()
    assert h.reconcile().output_for_node("reconcile_sync")["writes"] == 0
    assert (h.wix_writes(), h.external_sync_writes()) == writes
    assert h.wix_api_calls() == calls
    # The full listing through the API (wix_source="api") agrees.
    assert h.reconcile(wix_source="api").output_for_node("reconcile_sync")["writes"] == 0
    assert contact["id"] in {w for (w,) in h.query("SELECT wix_id FROM sync_map")}
    assert ext_id in {e for (e,) in h.query("SELECT external_id FROM sync_map")}


def test_dry_run_writes_the_diff_and_shows_it_as_run_metadata_without_pushing(h: SyncHarness) -> None:
    h.wix.state.set_webhook_url(None)
    _wix_contact(h, "dry@example.org")
    h.ext_create("contacts", email="dry-ext@example.org")
    writes = (h.wix_writes(), h.external_sync_writes())
    result = h.reconcile(dry_run=True, wix_source="api")
    assert (h.wix_writes(), h.external_sync_writes()) == writes
    rows = h.query("SELECT direction, op, dry_run FROM sync_diffs ORDER BY direction")
    assert rows == [("external->wix", "create", True), ("wix->external", "create", True)]
    assert h.query("SELECT count(*) FROM sync_map") == [(0,)]
    [materialization] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = materialization.event_specific_data.metadata
    assert metadata["dry_run"].value is True
    assert "dry@example.org" not in metadata["diff"].value  # ids and ops, not personal data
    assert "| contacts | wix->external | create |" in metadata["diff"].value


def test_initial_setup_dry_run_lists_deletions_and_never_deletes_site_members(h: SyncHarness) -> None:
    h.wix.state.set_webhook_url(None)
    both = _wix_contact(h, "both@example.org", first="Wix")
    only_wix = _wix_contact(h, "only-wix@example.org")
    [member] = h.wix.state.insert_records(
        "contacts",
        [
            {
                "info": {
                    "name": {"first": "Member"},
                    "emails": {"items": [{"email": "member@example.org", "primary": True}]},
                },
                "source": {"sourceType": "WIX_SITE_MEMBERS"},
            }
        ],
    )
    h.ext_create("contacts", email="both@example.org", firstName="External")
    only_ext = h.ext_create("contacts", email="only-ext@example.org")
    writes = (h.wix_writes(), h.external_sync_writes())
    rehearsal = h.reconcile(dry_run=True, setup_system_of_record="external")
    assert (h.wix_writes(), h.external_sync_writes()) == writes
    planned = h.query("SELECT direction, op, wix_id, external_id FROM sync_diffs WHERE op IN ('delete', 'skip')")
    assert ("external->wix", "delete", only_wix["id"], None) in planned
    assert [row for row in planned if row[2] == member["id"]] == [("external->wix", "skip", member["id"], None)]
    assert rehearsal.success

    h.reconcile(setup_system_of_record="external")
    emails = {c["primaryInfo"]["email"]: c for c in h.wix.state.contacts.values()}
    assert set(emails) == {"both@example.org", "member@example.org", "only-ext@example.org"}
    assert emails["both@example.org"]["info"]["name"]["first"] == "External"  # the system of record's content
    assert emails["both@example.org"]["id"] == both["id"]  # linked by email, not recreated
    assert h.external.state.get("contacts", only_ext) is not None


def test_both_sides_changed_newest_wins_and_the_loser_is_kept(h: SyncHarness) -> None:
    contact = _wix_contact(h, "clash@example.org", first="Before")
    h.settle()
    ext_id = h.external.state.find("contacts", {"email": "clash@example.org"})["id"]
    revision = h.wix.state.contacts.get(contact["id"])["revision"]
    with h.wix_user() as wix:
        wix.patch(
            f"/contacts/v4/contacts/{contact['id']}",
            json={"revision": revision, "info": {"name": {"first": "WixSide"}}},
        ).raise_for_status()
    h.ext_update("contacts", ext_id, firstName="ExternalSide")  # later: the newest
    h.settle()
    assert h.wix.state.contacts.get(contact["id"])["info"]["name"]["first"] == "ExternalSide"
    assert h.external.state.get("contacts", ext_id)["fields"]["firstName"] == "ExternalSide"
    [(winner, losing)] = h.query("SELECT winner, CAST(losing_version AS VARCHAR) FROM sync_conflicts")
    assert winner == "external" and "WixSide" in losing


def test_wix_merge_marks_the_warehouse_and_removes_the_merged_away_contact_externally(h: SyncHarness) -> None:
    target = _wix_contact(h, "target@example.org")
    source = _wix_contact(h, "source@example.org")
    h.settle()
    assert len(h.external.state.live("contacts")) == 2
    revision = h.wix.state.contacts.get(target["id"])["revision"]
    with h.wix_user() as wix:
        wix.post(
            f"/contacts/v4/contacts/{target['id']}/merge",
            json={
                "targetContactId": target["id"],
                "targetContactRevision": revision,
                "sourceContactIds": [source["id"]],
            },
        ).raise_for_status()
    h.settle()
    assert [r["fields"]["email"] for r in h.external.state.live("contacts")] == ["target@example.org"]
    assert h.query("SELECT merged_into, deleted_at IS NOT NULL FROM contacts WHERE id = ?", [source["id"]]) == [
        (target["id"], True)
    ]
