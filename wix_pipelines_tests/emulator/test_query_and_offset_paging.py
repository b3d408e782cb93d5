"""The query language (SPEC.md §2.6) and offset paging (§2.7) on contacts and extended fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from wix_pipelines.emulator.server import RunningEmulator
from wix_pipelines_tests.emulator.helpers import app_code, ok

QUERY = "/contacts/v4/contacts/query"


def query(client: httpx.Client, **q: Any) -> dict[str, Any]:
    return ok(client.post(QUERY, json={"query": q}))


def ids(client: httpx.Client, flt: dict[str, Any]) -> set[str]:
    return {c["id"] for c in query(client, filter=flt, paging={"limit": 1000})["contacts"]}


@pytest.fixture
def people(emulator_factory: Callable[..., RunningEmulator]) -> tuple[httpx.Client, dict[str, str]]:
    emulator = emulator_factory()  # empty: every contact below is known
    client = httpx.Client(base_url=emulator.base_url, headers=emulator.api_key_headers())
    made: dict[str, str] = {}
    for name, email, company, labels in (
        ("Ann", "ann@example.org", "Acme", ["custom.vip"]),
        ("Bob", "bob@example.org", "Globex", ["custom.vip", "custom.new"]),
        ("Cid", "cid@work.example", None, []),
    ):
        info: dict[str, Any] = {"name": {"first": name}, "emails": {"items": [{"email": email}]}}
        if company:
            info["company"] = company
        if labels:
            info["labelKeys"] = {"items": labels}
        made[name] = ok(client.post("/contacts/v4/contacts", json={"info": info}))["contact"]["id"]
    return client, made


def test_implicit_equality_and_explicit_operators(people: tuple[httpx.Client, dict[str, str]]) -> None:
    client, p = people
    assert ids(client, {"info.name.first": "Ann"}) == {p["Ann"]}
    assert ids(client, {"info.name.first": {"$eq": "Bob"}}) == {p["Bob"]}
    assert ids(client, {"info.name.first": {"$ne": "Bob"}}) == {p["Ann"], p["Cid"]}
    assert ids(client, {"id": {"$in": [p["Ann"], p["Cid"]]}}) == {p["Ann"], p["Cid"]}
    assert ids(client, {"info.company": {"$exists": False}}) == {p["Cid"]}


def test_starts_with_is_case_insensitive_and_begins_is_an_alias(people: tuple[httpx.Client, dict[str, str]]) -> None:
    client, p = people
    assert ids(client, {"primaryInfo.email": {"$startsWith": "ANN@"}}) == {p["Ann"]}
    assert ids(client, {"info.name.first": {"$begins": "b"}}) == {p["Bob"]}


def test_array_operators_on_labels(people: tuple[httpx.Client, dict[str, str]]) -> None:
    client, p = people
    assert ids(client, {"info.labelKeys": {"$hasSome": ["custom.new", "custom.x"]}}) == {p["Bob"]}
    assert ids(client, {"info.labelKeys": {"$hasAll": ["custom.vip"]}}) == {p["Ann"], p["Bob"]}


def test_logical_operators_combine(people: tuple[httpx.Client, dict[str, str]]) -> None:
    client, p = people
    either = {"$or": [{"info.name.first": "Ann"}, {"info.company": "Globex"}]}
    assert ids(client, either) == {p["Ann"], p["Bob"]}
    assert ids(client, {"$and": [either, {"info.labelKeys": {"$hasSome": ["custom.new"]}}]}) == {p["Bob"]}
    assert ids(client, {"$not": either}) == {p["Cid"]}


def test_null_equality_matches_missing_fields_like_sdk_is_empty(people: tuple[httpx.Client, dict[str, str]]) -> None:
    client, p = people
    assert ids(client, {"info.company": None}) == {p["Cid"]}
    assert ids(client, {"info.company": {"$ne": None}}) == {p["Ann"], p["Bob"]}


def test_extended_field_keys_with_dots_are_filterable(emulator_http: httpx.Client) -> None:
    subscribed = query(
        emulator_http,
        filter={"info.extendedFields.emailSubscriptions.subscriptionStatus": {"$in": ["SUBSCRIBED"]}},
        paging={"limit": 1000},
    )["contacts"]
    assert subscribed
    for contact in subscribed:
        assert contact["info"]["extendedFields"]["items"]["emailSubscriptions.subscriptionStatus"] == "SUBSCRIBED"


def test_date_filters_accept_timestamps_with_and_without_fraction(emulator_http: httpx.Client) -> None:
    everyone = query(emulator_http, paging={"limit": 1000})["contacts"]
    pivot = sorted(c["createdDate"] for c in everyone)[len(everyone) // 2]
    expected = {c["id"] for c in everyone if c["createdDate"] >= pivot}
    assert ids(emulator_http, {"createdDate": {"$gte": pivot}}) == expected
    whole_second = pivot[:19] + "Z"
    assert ids(emulator_http, {"createdDate": {"$gte": whole_second}}) >= expected
    updated = {c["id"] for c in everyone if c["updatedDate"] > pivot}
    assert ids(emulator_http, {"updatedDate": {"$gt": pivot}}) == updated


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"filter": {"info.nope": "x"}}, "UNSUPPORTED_FILTER_FIELD_UNKNOWN"),
        ({"filter": {"info.labelKeys": {"$eq": "x"}}}, "UNSUPPORTED_FILTER_OPERATOR"),
        ({"filter": {"id": {"$regex": "x"}}}, "UNSUPPORTED_FILTER_OPERATOR"),
        ({"filter": {"$xor": []}}, "MALFORMED_FILTER"),
        ({"filter": {"$or": {}}}, "MALFORMED_FILTER"),
        ({"filter": ["not", "an", "object"]}, "MALFORMED_FILTER"),
        ({"filter": {"createdDate": {"$gt": "yesterday"}}}, "UNSUPPORTED_FILTER_VALUE"),
        ({"filter": {"id": {"$in": "x"}}}, "UNSUPPORTED_FILTER_VALUE_TYPE"),
        ({"sort": [{"fieldName": "updatedDate"}]}, "UNSUPPORTED_SORT_FIELD"),
        ({"sort": [{"fieldName": "createdDate"}, {"fieldName": "info.name.first"}]}, "UNSUPPORTED_SORT_FIELD"),
        ({"paging": {"limit": 1001}}, "ILLEGAL_LIMIT"),
    ],
)
def test_invalid_queries_are_400_with_the_contacts_code(
    emulator_http: httpx.Client, body: dict[str, Any], code: str
) -> None:
    response = emulator_http.post(QUERY, json={"query": body})
    assert response.status_code == 400
    assert app_code(response) == code


def test_updated_date_is_filterable_but_not_sortable(emulator_http: httpx.Client) -> None:
    ok(emulator_http.post(QUERY, json={"query": {"filter": {"updatedDate": {"$gte": "2020-01-01T00:00:00Z"}}}}))
    response = emulator_http.get("/contacts/v4/contacts", params={"sort.fieldName": "updatedDate"})
    assert app_code(response) == "UNSUPPORTED_SORT_FIELD"


def test_offset_pages_report_correct_total_and_default_limit_50(
    emulator_factory: Callable[..., RunningEmulator],
) -> None:
    emulator = emulator_factory(contacts=120)
    client = httpx.Client(base_url=emulator.base_url, headers=emulator.api_key_headers())
    first = ok(client.get("/contacts/v4/contacts"))
    assert first["pagingMetadata"] == {"count": 50, "offset": 0, "total": 120, "tooManyToCount": False}
    last = ok(client.get("/contacts/v4/contacts", params={"paging.limit": 50, "paging.offset": 100}))
    assert last["pagingMetadata"]["count"] == 20
    assert last["pagingMetadata"]["total"] == 120


def test_sort_desc_with_ties_broken_by_id(emulator_factory: Callable[..., RunningEmulator]) -> None:
    emulator = emulator_factory(contacts=300)
    client = httpx.Client(base_url=emulator.base_url, headers=emulator.api_key_headers())
    contacts = query(client, sort=[{"fieldName": "createdDate", "order": "DESC"}], paging={"limit": 1000})["contacts"]
    keys = [(c["createdDate"], c["id"]) for c in contacts]
    assert keys == sorted(keys, reverse=True)
    by_name = query(client, sort=[{"fieldName": "info.name.first"}], paging={"limit": 1000})["contacts"]
    names = [(c["info"]["name"]["first"], c["id"]) for c in by_name]
    assert names == sorted(names)


def test_paging_1000_contacts_sharing_one_created_date_loses_and_duplicates_nothing(
    emulator_factory: Callable[..., RunningEmulator],
) -> None:
    emulator = emulator_factory(contacts=5000)
    client = httpx.Client(base_url=emulator.base_url, headers=emulator.api_key_headers(), timeout=30)
    seen: list[str] = []
    offset = 0
    while True:
        page = query(client, sort=[{"fieldName": "createdDate"}], paging={"limit": 1000, "offset": offset})
        seen += [c["id"] for c in page["contacts"]]
        offset += 1000
        if offset >= page["pagingMetadata"]["total"]:
            break
    assert len(seen) == len(set(seen)) == 5000
    dates = [c["createdDate"] for c in emulator.state.contacts.values()]
    assert max(dates.count(d) for d in set(dates)) > 1000


def test_extended_field_query_has_its_own_codes(emulator_http: httpx.Client) -> None:
    response = emulator_http.post("/contacts/v4/extended-fields/query", json={"query": {"filter": {"nope": 1}}})
    assert app_code(response) == "UNSUPPORTED_FILTER_FIELD"
    response = emulator_http.post(
        "/contacts/v4/extended-fields/query", json={"query": {"sort": [{"fieldName": "key"}]}}
    )
    assert app_code(response) == "INVALID_SORT"
