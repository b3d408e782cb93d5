"""Contacts v4 (SPEC.md §3): CRUD, revisions, duplicates, update semantics, merge, labels, projection."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from wix_pipelines.emulator.server import RunningEmulator
from wix_pipelines_tests.emulator.helpers import app_code, new_contact, ok

BASE = "/contacts/v4/contacts"


def test_created_contact_starts_at_revision_1_with_derived_primary_fields(emulator_http: httpx.Client) -> None:
    contact = new_contact(
        emulator_http,
        name={"first": "Dana", "last": "Tester"},
        emails={"items": [{"email": "Dana.T@Example.org", "tag": "MAIN"}]},
        phones={"items": [{"phone": "555-010-0123", "countryCode": "US"}]},
    )
    assert contact["revision"] == 1
    assert contact["createdDate"].endswith("Z") and len(contact["createdDate"]) == 24
    assert contact["primaryInfo"] == {"email": "Dana.T@Example.org", "phone": "555-010-0123"}
    assert contact["primaryEmail"]["subscriptionStatus"] == "NOT_SET"
    assert contact["primaryPhone"]["e164Phone"] == "+15550100123"
    assert contact["info"]["emails"]["items"][0]["primary"] is True
    assert contact["info"]["emails"]["items"][0]["id"]
    ext = contact["info"]["extendedFields"]["items"]
    assert ext["emailSubscriptions.effectiveEmail"] == "Dana.T@Example.org"
    fetched = ok(emulator_http.get(f"{BASE}/{contact['id']}"))
    assert fetched == {"contact": contact, "responseType": "REGULAR"}


def test_contact_without_name_email_or_phone_is_insufficient_data(emulator_http: httpx.Client) -> None:
    response = emulator_http.post(BASE, json={"info": {"company": "Acme"}})
    assert response.status_code == 400
    assert app_code(response) == "INSUFFICIENT_CONTACT_DATA"


def test_duplicate_email_is_409_case_insensitive_unless_allow_duplicates(emulator_http: httpx.Client) -> None:
    first = new_contact(emulator_http, emails={"items": [{"email": "same@example.org"}]})
    response = emulator_http.post(BASE, json={"info": {"emails": {"items": [{"email": "SAME@example.org"}]}}})
    assert response.status_code == 409
    assert app_code(response) == "DUPLICATE_CONTACT_EXISTS"
    data = response.json()["details"]["applicationError"]["data"]
    assert data["duplicateContactId"] == first["id"]
    assert data["duplicateEmail"] == "SAME@example.org"
    allowed = emulator_http.post(
        BASE, json={"info": {"emails": {"items": [{"email": "same@example.org"}]}}, "allowDuplicates": True}
    )
    assert ok(allowed)["contact"]["id"] != first["id"]


def test_duplicate_phone_counts_only_when_no_email_is_given(emulator_http: httpx.Client) -> None:
    phone = {"items": [{"phone": "555-777-0001", "countryCode": "US"}]}
    new_contact(emulator_http, phones=phone)
    response = emulator_http.post(BASE, json={"info": {"phones": phone}})
    assert response.status_code == 409
    assert response.json()["details"]["applicationError"]["data"]["duplicatePhone"] == "555-777-0001"
    with_email = {"phones": phone, "emails": {"items": [{"email": "new@example.org"}]}}
    ok(emulator_http.post(BASE, json={"info": with_email}))


def test_update_with_current_revision_increments_it_and_stale_revision_is_409(emulator_http: httpx.Client) -> None:
    contact = new_contact(emulator_http)
    path = f"{BASE}/{contact['id']}"
    updated = ok(
        emulator_http.patch(path, json={"contactId": contact["id"], "revision": 1, "info": {"company": "Acme"}})
    )
    assert updated["contact"]["revision"] == 2
    assert updated["contact"]["info"]["company"] == "Acme"
    assert updated["contact"]["info"]["name"] == {"first": "Dana", "last": "Tester"}  # absent keys untouched
    assert updated["contact"]["updatedDate"] >= contact["updatedDate"]
    stale = emulator_http.patch(path, json={"revision": 1, "info": {"company": "Other"}})
    assert stale.status_code == 409
    assert app_code(stale) == "CONTACT_ALREADY_CHANGED"


def test_update_replaces_sub_objects_but_merges_extended_fields_by_key(emulator_http: httpx.Client) -> None:
    ok(emulator_http.post("/contacts/v4/extended-fields", json={"displayName": "externalCrmId"}))
    ok(emulator_http.post("/contacts/v4/extended-fields", json={"displayName": "tier"}))
    contact = new_contact(
        emulator_http,
        name={"first": "A", "last": "B"},
        extendedFields={"items": {"custom.externalcrmid": "CRM-1", "custom.tier": "gold"}},
    )
    patch = {"name": {"first": "C"}, "extendedFields": {"items": {"custom.tier": "silver"}}}
    updated = ok(emulator_http.patch(f"{BASE}/{contact['id']}", json={"revision": 1, "info": patch}))["contact"]
    assert updated["info"]["name"] == {"first": "C"}
    ext = updated["info"]["extendedFields"]["items"]
    assert ext["custom.externalcrmid"] == "CRM-1"
    assert ext["custom.tier"] == "silver"


def test_update_with_field_mask_touches_only_masked_paths(emulator_http: httpx.Client) -> None:
    contact = new_contact(emulator_http, name={"first": "A", "last": "B"}, company="Old")
    body = {
        "revision": 1,
        "info": {"name": {"last": "Z", "first": "ignored"}, "company": "New"},
        "fieldMask": "info.name.last",
    }
    updated = ok(emulator_http.patch(f"{BASE}/{contact['id']}", json=body))["contact"]
    assert updated["info"]["name"] == {"first": "A", "last": "Z"}
    assert updated["info"]["company"] == "Old"


def test_unknown_extended_field_key_is_rejected(emulator_http: httpx.Client) -> None:
    response = emulator_http.post(
        BASE, json={"info": {"name": {"first": "X"}, "extendedFields": {"items": {"custom.nope": 1}}}}
    )
    assert response.status_code == 400
    assert app_code(response) == "INVALID_EXTENDED_FIELD_VALUE"


def test_delete_answers_empty_object_and_contact_is_gone(emulator_http: httpx.Client) -> None:
    contact = new_contact(emulator_http)
    assert ok(emulator_http.delete(f"{BASE}/{contact['id']}", params={"contactId": contact["id"]})) == {}
    missing = emulator_http.get(f"{BASE}/{contact['id']}")
    assert missing.status_code == 404
    assert app_code(missing) == "CONTACT_NOT_FOUND"


def test_merge_appends_source_data_deletes_sources_and_get_of_source_returns_target(
    emulator_http: httpx.Client, emulator: RunningEmulator
) -> None:
    target = new_contact(emulator_http, name={"first": "T"}, emails={"items": [{"email": "t@example.org"}]})
    source_info = {
        "name": {"first": "S", "last": "Source"},
        "emails": {"items": [{"email": "s@example.org"}, {"email": "T@example.org"}]},
        "labelKeys": {"items": ["custom.vip"]},
        "company": "Src Co",
    }
    source = ok(emulator_http.post(BASE, json={"info": source_info, "allowDuplicates": True}))["contact"]
    body = {"targetContactId": target["id"], "targetContactRevision": 1, "sourceContactIds": [source["id"]]}
    merged = ok(emulator_http.post(f"{BASE}/{target['id']}/merge", json=body))["contact"]
    emails = [e["email"] for e in merged["info"]["emails"]["items"]]
    assert emails == ["t@example.org", "s@example.org"]  # appended, no duplicate, target primary kept
    assert merged["info"]["name"] == {"first": "T", "last": "Source"}  # target never overwritten, blanks filled
    assert merged["info"]["labelKeys"]["items"] == ["custom.vip"]
    assert merged["revision"] == 2
    got = ok(emulator_http.get(f"{BASE}/{source['id']}"))
    assert got["responseType"] == "MERGED"
    assert got["contact"]["id"] == target["id"]
    listed = ok(emulator_http.post(f"{BASE}/query", json={"query": {"filter": {"id": source["id"]}}}))
    assert listed["contacts"] == []
    event_types = [envelope["eventType"] for envelope, _ in emulator.state.events[-3:]]
    assert event_types == [
        "wix.contacts.v4.contact_merged",
        "wix.contacts.v4.contact_updated",
        "wix.contacts.v4.contact_deleted",
    ]


def test_merge_with_stale_target_revision_is_409(emulator_http: httpx.Client) -> None:
    target, source = new_contact(emulator_http, name={"first": "T"}), new_contact(emulator_http, name={"first": "S"})
    body = {"targetContactRevision": 7, "sourceContactIds": [source["id"]]}
    response = emulator_http.post(f"{BASE}/{target['id']}/merge", json=body)
    assert response.status_code == 409
    assert app_code(response) == "CONTACT_ALREADY_CHANGED"


def test_preview_merge_changes_nothing(emulator_http: httpx.Client) -> None:
    target = new_contact(emulator_http, name={"first": "T"})
    source = new_contact(emulator_http, name={"first": "S"}, emails={"items": [{"email": "p@example.org"}]})
    preview = ok(emulator_http.post(f"{BASE}/{target['id']}/preview-merge", json={"sourceContactIds": [source["id"]]}))
    assert preview["contact"]["primaryInfo"]["email"] == "p@example.org"
    assert ok(emulator_http.get(f"{BASE}/{source['id']}"))["responseType"] == "REGULAR"
    assert ok(emulator_http.get(f"{BASE}/{target['id']}"))["contact"]["revision"] == 1


def test_labels_are_added_and_removed(emulator_http: httpx.Client) -> None:
    contact = new_contact(emulator_http)
    path = f"{BASE}/{contact['id']}/labels"
    labelled = ok(emulator_http.post(path, json={"contactId": contact["id"], "labelKeys": ["custom.a", "custom.b"]}))
    assert labelled["contact"]["info"]["labelKeys"]["items"] == ["custom.a", "custom.b"]
    unlabelled = ok(emulator_http.delete(path, params=[("labelKeys", "custom.a")]))
    assert unlabelled["contact"]["info"]["labelKeys"]["items"] == ["custom.b"]
    assert unlabelled["contact"]["revision"] == 3


def test_fieldsets_and_fields_project_the_contact(emulator_http: httpx.Client) -> None:
    listed = ok(emulator_http.get(BASE, params={"fieldsets": "BASIC", "paging.limit": 2}))
    contact = listed["contacts"][0]
    assert set(contact) <= {"id", "revision", "info", "primaryInfo"}
    assert set(contact["info"]) == {"name"}
    query = {"query": {"fields": ["info.company"], "paging": {"limit": 1}}}
    projected = ok(emulator_http.post(f"{BASE}/query", json=query))["contacts"][0]
    assert set(projected) == {"id", "revision", "info"}
    assert set(projected["info"]) == {"company"}


def test_api_key_create_uses_other_source_and_app_token_records_the_app(
    emulator_factory: Callable[..., RunningEmulator],
) -> None:
    emulator = emulator_factory()
    token = ok(
        httpx.post(
            emulator.base_url + "/oauth2/token",
            json={"grant_type": "client_credentials", **emulator.oauth_credentials()},
        )
    )
    response = httpx.post(
        emulator.base_url + BASE,
        json={"info": {"name": {"first": "App"}}},
        headers={"Authorization": token["access_token"]},
    )
    assert ok(response)["contact"]["source"] == {"sourceType": "WIX_APP", "appId": emulator.config.app_id}
