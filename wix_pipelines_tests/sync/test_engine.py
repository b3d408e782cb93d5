"""The sync engine and its config as a plain library: both emulators over HTTP, DuckDB in memory."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from wix_pipelines.sync import SyncConfig, load_sync_config
from wix_pipelines.sync.canonical import content_hash, wix_content

from .conftest import Sides


def test_config_file_is_validated_with_the_offending_key_named(tmp_path: Path) -> None:
    good = tmp_path / "sync.toml"
    good.write_text(
        'system_of_record = "wix"\nconflict_policy = "system_of_record"\n'
        '[contacts]\n"primaryInfo.email" = "email"\n"info.name.first" = "givenName"\n'
        '[entities]\n"prod-1" = "SKU-1"\n'
    )
    config = load_sync_config(good)
    assert config.contacts == {"primaryInfo.email": "email", "info.name.first": "givenName"}
    assert config.to_external_entity("prod-1") == "SKU-1" and config.to_wix_entity("SKU-1") == "prod-1"
    bad = tmp_path / "bad.toml"
    bad.write_text('[contacts]\n"primaryInfo.email" = "email"\n"info.nickname" = "nick"\n')
    with pytest.raises(ValidationError, match=r"info\.nickname"):
        load_sync_config(bad)
    with pytest.raises(ValidationError, match="system_of_record"):
        SyncConfig(conflict_policy="system_of_record")
    with pytest.raises(ValidationError, match="matched by email"):
        SyncConfig(contacts={"info.name.first": "firstName"})
    with pytest.raises(ValidationError, match="natural-key"):
        SyncConfig(reviews={"content.title": "productId"})


def test_field_mapping_decides_what_crosses_and_under_which_names(sides: Sides) -> None:
    config = SyncConfig(contacts={"primaryInfo.email": "email", "info.name.last": "surname"})
    contact = sides.client.contacts.create(
        {"name": {"first": "Not", "last": "Mapped"}, "emails": {"items": [{"email": "m@example.org"}]}}
    )
    engine = sides.engine(config)
    engine.sync_from_wix({"contacts": [str(contact.id)]})
    [record] = sides.external.state.live("contacts")
    assert record["fields"] == {"email": "m@example.org", "surname": "Mapped"}


def test_a_lost_create_answer_on_wix_is_adopted_on_retry_not_repeated(sides: Sides) -> None:
    author = sides.external.state.create("contacts", {"email": "a@example.org"}, actor="crm-user")["id"]
    review = sides.external.state.create(
        "reviews", {"productId": "p", "authorId": author, "rating": 5}, actor="crm-user"
    )["id"]
    engine = sides.engine()
    engine.sync_from_external({"reviews": [review]})
    [wix_review] = list(sides.wix.state.reviews.values())
    # Simulate the job dying between Wix's answer and our commit of the mapping (the answer was "lost"):
    # the intent row survives, the mapping does not.
    sides.con.execute("DELETE FROM sync_map WHERE kind = 'reviews'")
    sides.con.execute("UPDATE sync_ledger SET status = 'intent' WHERE kind = 'reviews' AND op = 'create'")
    writes = sides.wix.state.stats.writes
    report = sides.engine().sync_from_external({"reviews": [review]})
    assert sides.wix.state.stats.writes == writes and report.skipped == []
    assert sides.con.execute("SELECT wix_id FROM sync_map WHERE kind = 'reviews'").fetchall() == [(wix_review["id"],)]


def test_conflict_policy_system_of_record_beats_newer_changes(sides: Sides) -> None:
    config = SyncConfig(system_of_record="wix", conflict_policy="system_of_record")
    contact = sides.client.contacts.create({"name": {"first": "A"}, "emails": {"items": [{"email": "c@example.org"}]}})
    sides.engine(config).sync_from_wix({"contacts": [str(contact.id)]})
    [ext] = sides.external.state.live("contacts")
    current = sides.client.contacts.get(str(contact.id))
    sides.client.contacts.update(str(contact.id), int(current.revision or 0), {"name": {"first": "Wix"}})
    sides.external.state.update("contacts", ext["id"], {"firstName": "External"}, actor="crm-user")  # newer
    report = sides.engine(config).sync_from_external({"contacts": [ext["id"]]})
    assert report.conflicts == 1
    assert sides.external.state.get("contacts", ext["id"])["fields"]["firstName"] == "Wix"
    [(winner, policy)] = sides.con.execute("SELECT winner, policy FROM sync_conflicts").fetchall()
    assert (winner, policy) == ("wix", "system_of_record")


def test_the_event_of_our_own_write_is_recognised_by_the_ledger_as_an_echo(sides: Sides) -> None:
    ext_id = sides.external.state.create("contacts", {"email": "e@example.org"}, actor="crm-user")["id"]
    sides.engine().sync_from_external({"contacts": [ext_id]})
    [wix_contact] = list(sides.wix.state.contacts.values())
    report = sides.engine().sync_from_wix({"contacts": [wix_contact["id"]]})
    assert report.total("echo") == 1 and report.as_metadata()["writes"] == 0
    expected = content_hash(wix_content("contacts", wix_contact, SyncConfig()))
    [(ledger_hash,)] = sides.con.execute(
        "SELECT content_hash FROM sync_ledger WHERE target = 'wix' AND status = 'done'"
    ).fetchall()
    assert ledger_hash == expected


def test_deleting_a_member_contact_externally_never_deletes_it_on_wix(sides: Sides) -> None:
    [member] = sides.wix.state.insert_records(
        "contacts",
        [
            {
                "info": {"emails": {"items": [{"email": "mem@example.org", "primary": True}]}},
                "source": {"sourceType": "WIX_SITE_MEMBERS"},
            }
        ],
    )
    sides.engine().sync_from_wix({"contacts": [member["id"]]})
    [ext] = sides.external.state.live("contacts")
    sides.external.state.delete("contacts", ext["id"], actor="crm-user")
    report = sides.engine().sync_from_external({"contacts": [ext["id"]]})
    assert sides.wix.state.contacts.get(member["id"]) is not None
    assert [s["reason"] for s in report.skipped] == ["site member: Wix contacts of members are not deleted"]


def test_reviews_from_the_external_side_are_created_with_one_bulk_call(sides: Sides) -> None:
    from wix_pipelines.wix import paths

    state = sides.external.state
    authors = [state.create("contacts", {"email": f"b{i}@example.org"}, actor="crm-user")["id"] for i in range(3)]
    reviews = [
        state.create("reviews", {"productId": "p", "authorId": a, "rating": 4, "status": "REJECTED"}, actor="crm-user")
        for a in authors
    ]
    report = sides.engine().sync_from_external({"contacts": authors, "reviews": [r["id"] for r in reviews]})
    assert report.counts["reviews.external->wix.create"] == 3
    assert sides.wix.state.stats.count("POST", paths.REVIEWS_BULK_CREATE) == 1
    assert sides.wix.state.stats.count("POST", paths.REVIEWS) == 0
    # The status set in the external system reached Wix through its moderation endpoint.
    assert {r["moderation"]["moderationStatus"] for r in sides.wix.state.reviews.values()} == {"REJECTED"}


def test_external_changes_made_with_the_syncs_own_credentials_are_skipped_unread(sides: Sides) -> None:
    from wix_pipelines.external import Change

    config = SyncConfig(external_sync_actor="wix-sync")
    contact = sides.client.contacts.create({"emails": {"items": [{"email": "own@example.org"}]}})
    sides.engine(config).sync_from_wix({"contacts": [str(contact.id)]})
    [change] = sides.adapter.list_changes(None).changes
    assert change.actor == "wix-sync"
    reads = sides.external.state.requests.copy()
    report = sides.engine(config).handle_external_changes([Change(**change.model_dump())])
    assert report.total("echo") == 1
    assert sides.external.state.requests == reads  # not even a read


def test_the_example_config_file_is_valid() -> None:
    import wix_pipelines.sync

    example = Path(wix_pipelines.sync.__file__).parent / "sync.example.toml"
    config = load_sync_config(example)
    assert config.system_of_record == "wix" and config.entities == {"prod-4f1c2d": "SKU-1001"}
