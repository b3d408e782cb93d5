from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from wix_pipelines.warehouse import (
    MalformedPageError,
    MalformedRecordsError,
    StagingArea,
    Warehouse,
    apply_staged,
    upsert_batch,
)
from wix_pipelines.warehouse.upserts import UpsertResult

from .fakes import BASE_TIME, contact, page, rating, review, review_request


class _StagedWarehouse(Warehouse):
    """The same upserts the way a pull makes them: shaped on a `StagingArea`'s own DuckDB instance, handed over
    as Arrow and applied on the warehouse's connection."""

    def upsert_batch(self, stream: str, pages: Any = (), *, records: Any = (), **apply: Any) -> UpsertResult:
        staging = StagingArea()
        try:
            staged = staging.stage(stream, pages, records=records)
            with self.connect() as con:
                return apply_staged(con, staged, **apply)
        finally:
            staging.close()


@pytest.fixture(params=["one transaction", "staged elsewhere"])
def warehouse(request: pytest.FixtureRequest, warehouse: Warehouse) -> Warehouse:
    """Every test here runs both ways: `upsert_batch`, and `StagingArea` + `apply_staged` (the pull's path)."""
    return warehouse if request.param == "one transaction" else _StagedWarehouse(warehouse.path)


def _rows(warehouse: Warehouse, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with warehouse.connect() as con:
        return con.execute(sql, params or []).fetchall()


def test_first_batch_inserts_and_repeat_changes_nothing(warehouse: Warehouse) -> None:
    body = page("contacts", [contact(i) for i in range(5)])
    first = warehouse.upsert_batch("contacts", body)
    assert (first.fetched, first.inserted, first.updated, first.unchanged) == (5, 5, 0, 0)
    before = _rows(warehouse, "SELECT id, _loaded_at, _record_hash FROM contacts ORDER BY id")

    again = warehouse.upsert_batch("contacts", body)
    assert (again.fetched, again.inserted, again.updated, again.unchanged) == (5, 0, 0, 5)
    assert _rows(warehouse, "SELECT id, _loaded_at, _record_hash FROM contacts ORDER BY id") == before


def test_changed_record_counts_as_updated_and_bumps_loaded_at(warehouse: Warehouse) -> None:
    warehouse.upsert_batch("contacts", page("contacts", [contact(0), contact(1)]))
    (loaded_before,) = _rows(warehouse, "SELECT _loaded_at FROM contacts WHERE id = ?", [contact(1)["id"]])[0]

    changed = contact(1, revision=2)
    changed["info"]["name"]["first"] = "Renamed"
    result = warehouse.upsert_batch("contacts", page("contacts", [contact(0), changed, contact(2)]))

    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 1)
    first, revision, loaded = _rows(
        warehouse, "SELECT first_name, revision, _loaded_at FROM contacts WHERE id = ?", [changed["id"]]
    )[0]
    assert (first, revision) == ("Renamed", 2)
    assert loaded > loaded_before


def test_a_stored_copy_created_before_the_batch_is_still_found(warehouse: Warehouse) -> None:
    """A stored copy with an earlier createdDate than anything in the batch (the record's createdDate changed) must
    still be updated, not inserted a second time: ids are looked up in every stored row."""
    warehouse.upsert_batch("contacts", page("contacts", [contact(0), contact(1)]))
    moved = contact(0, created=BASE_TIME + timedelta(days=30))
    result = warehouse.upsert_batch("contacts", page("contacts", [moved, contact(5)]))

    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 0)
    assert _rows(warehouse, "SELECT count(*), count(DISTINCT id) FROM contacts") == [(3, 3)]
    assert _rows(warehouse, "SELECT created_date FROM contacts WHERE id = ?", [moved["id"]]) == [
        (BASE_TIME + timedelta(days=30),)
    ]
    (log_rows,) = _rows(warehouse, "SELECT count(*) FROM _load_log")[0]
    assert log_rows == 2


@pytest.mark.parametrize("changed", [1, 6], ids=["looked up one by one", "joined with the whole table"])
def test_ids_are_found_whichever_way_they_are_looked_up(warehouse: Warehouse, changed: int) -> None:
    """A few matching stored rows are read by point lookups on `_id_hash`, more by a join with the whole table (the
    cut is at `_POINT_LOOKUPS_MAX`): both find every stored id."""
    warehouse.upsert_batch("contacts", page("contacts", [contact(i) for i in range(50)]))
    updated = [contact(i, revision=2) for i in range(changed)]
    result = warehouse.upsert_batch("contacts", page("contacts", [*updated, contact(50), contact(51)]))
    assert (result.inserted, result.updated, result.unchanged) == (2, changed, 0)
    assert _rows(warehouse, "SELECT count(*), count(DISTINCT id) FROM contacts") == [(52, 52)]


def test_id_hashes_from_another_duckdb_version_are_recomputed_not_trusted(warehouse: Warehouse) -> None:
    """`_id_hash` is DuckDB's hash(); were it to change with an upgrade, lookups by it would miss every stored id
    and insert each record again. The stale values are noticed and recomputed before a lookup."""
    warehouse.upsert_batch("contacts", page("contacts", [contact(i) for i in range(20)]))
    with warehouse.connect() as con:
        con.execute("UPDATE contacts SET _id_hash = _id_hash + 1")  # what another hash() would have written
    result = warehouse.upsert_batch("contacts", page("contacts", [contact(3, revision=2), contact(20)]))
    assert (result.inserted, result.updated) == (1, 1)
    assert _rows(warehouse, "SELECT count(*), count(DISTINCT id) FROM contacts") == [(21, 21)]
    assert _rows(warehouse, "SELECT count(*) FROM contacts WHERE _id_hash = hash(id)") == [(21,)]


def test_record_dicts_and_raw_bytes_land_identically(warehouse: Warehouse) -> None:
    records = [contact(i) for i in range(3)]
    warehouse.upsert_batch("contacts", records=records)
    # The same records as a raw body: same minified JSON, same hash, so nothing changes.
    result = warehouse.upsert_batch("contacts", page("contacts", records))
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 3)


def test_several_pages_and_records_in_one_batch(warehouse: Warehouse) -> None:
    pages = [page("reviews", [review(i) for i in range(k, k + 4)]) for k in (0, 4, 8)]
    result = warehouse.upsert_batch("reviews", pages, records=[review(12)])
    assert (result.pages, result.fetched, result.inserted) == (4, 13, 13)
    assert _rows(warehouse, "SELECT count(*) FROM reviews") == [(13,)]


def test_same_id_twice_in_a_batch_keeps_the_last_copy(warehouse: Warehouse) -> None:
    old, new = contact(7), contact(7, revision=3)
    result = warehouse.upsert_batch("contacts", [page("contacts", [old]), page("contacts", [contact(8), new])])
    assert (result.fetched, result.inserted, result.duplicates) == (3, 2, 1)
    assert _rows(warehouse, "SELECT revision FROM contacts WHERE id = ?", [old["id"]]) == [(3,)]


def test_record_returning_after_deletion_is_revived(warehouse: Warehouse) -> None:
    warehouse.upsert_batch("contacts", page("contacts", [contact(0), contact(1)]))
    warehouse.mark_deleted("contacts", [contact(1)["id"]])
    assert _rows(warehouse, "SELECT count(*) FROM contacts WHERE deleted_at IS NOT NULL") == [(1,)]

    result = warehouse.upsert_batch("contacts", page("contacts", [contact(1)]))  # identical content
    assert (result.updated, result.revived, result.unchanged) == (1, 1, 0)
    assert _rows(warehouse, "SELECT count(*) FROM contacts WHERE deleted_at IS NOT NULL") == [(0,)]


def test_revived_merged_contact_loses_merged_into(warehouse: Warehouse) -> None:
    warehouse.upsert_batch("contacts", page("contacts", [contact(0), contact(1)]))
    assert warehouse.mark_merged({contact(1)["id"]: contact(0)["id"]}) == 1
    assert _rows(warehouse, "SELECT merged_into, deleted_at IS NOT NULL FROM contacts WHERE id = ?",
                 [contact(1)["id"]]) == [(contact(0)["id"], True)]  # fmt: skip
    warehouse.upsert_batch("contacts", page("contacts", [contact(1)]))
    assert _rows(warehouse, "SELECT merged_into, deleted_at FROM contacts WHERE id = ?", [contact(1)["id"]]) == [
        (None, None)
    ]


def test_contact_typed_columns(warehouse: Warehouse) -> None:
    c = contact(3)
    warehouse.upsert_batch("contacts", page("contacts", [c]))
    row = _rows(
        warehouse,
        """SELECT first_name, last_name, primary_email, primary_phone, company, label_keys, source_type,
                  revision, created_date, birthdate, email_subscription_status, merged_into, deleted_at,
                  record->>'$.info.jobTitle'
           FROM contacts""",
    )[0]
    assert row[:8] == (
        c["info"]["name"]["first"],
        c["info"]["name"]["last"],
        c["primaryInfo"]["email"],
        c["primaryInfo"]["phone"],
        c["info"]["company"],
        c["info"]["labelKeys"]["items"],
        "WIX_APP",
        1,
    )
    assert row[8] == datetime.fromisoformat(c["createdDate"].replace("Z", "+00:00"))
    assert row[8].tzinfo is not None
    assert str(row[9]) == c["info"]["birthdate"]
    assert row[10] == c["primaryEmail"]["subscriptionStatus"]
    assert row[11:] == (None, None, "QA lead")


def test_email_subscription_status_falls_back_to_the_extended_field(warehouse: Warehouse) -> None:
    only_extended = contact(1)
    del only_extended["primaryEmail"]
    only_extended["info"]["extendedFields"]["items"]["emailSubscriptions.subscriptionStatus"] = "SUBSCRIBED"
    only_primary = contact(2)
    only_primary["primaryEmail"]["subscriptionStatus"] = "UNSUBSCRIBED"
    del only_primary["info"]["extendedFields"]
    neither = contact(3)
    del neither["primaryEmail"], neither["info"]["extendedFields"], neither["info"]["labelKeys"]
    warehouse.upsert_batch("contacts", records=[only_extended, only_primary, neither])
    got = dict(_rows(warehouse, "SELECT id, email_subscription_status FROM contacts"))
    assert got == {only_extended["id"]: "SUBSCRIBED", only_primary["id"]: "UNSUBSCRIBED", neither["id"]: None}
    # Wix omits empty lists: a contact without labelKeys has an empty list, not NULL.
    assert _rows(warehouse, "SELECT label_keys FROM contacts WHERE id = ?", [neither["id"]]) == [([],)]


def test_rating_owner_comes_from_owner_or_rating_owner(warehouse: Warehouse) -> None:
    a, b = rating(1, owner_key="owner"), rating(2, owner_key="ratingOwner")
    warehouse.upsert_batch("ratings", page("ratings", [a, b]))
    got = dict(_rows(warehouse, "SELECT id, owner_contact_id FROM ratings"))
    assert got == {a["id"]: a["owner"]["contactId"], b["id"]: b["ratingOwner"]["contactId"]}
    sql = "SELECT rating_group, attribute_name, value, related_entity_ids FROM ratings WHERE id = ?"
    assert _rows(warehouse, sql, [a["id"]]) == [("stores", "overall", 2.0, a["relatedEntityIds"])]


def test_review_typed_columns(warehouse: Warehouse) -> None:
    r = review(3)  # i % 3 == 0: one media item
    r["reply"] = {"message": "Thanks!", "createdDate": "2024-05-01T00:00:00Z"}
    warehouse.upsert_batch("reviews", page("reviews", [r, review(4)]))
    rows = _rows(
        warehouse,
        """SELECT id, namespace, entity_id, author_contact_id, rating, found_helpful, found_unhelpful,
                  helpfulness, moderation_status, media_count, has_media, reply_message, verified,
                  origin_type, revision
           FROM reviews ORDER BY created_date""",
    )
    assert rows[0] == (
        r["id"], "stores", r["entityId"], r["author"]["contactId"], r["content"]["rating"], r["foundHelpful"],
        r["foundUnhelpful"], r["helpfulness"], "APPROVED", 1, True, "Thanks!", r["verified"], "ORGANIC", 1,
    )  # fmt: skip
    assert rows[1][9:12] == (0, False, None)


def test_review_request_item_ids(warehouse: Warehouse) -> None:
    rr = review_request(5, status="SENT")
    rr["items"][1]["reviewId"] = "rev-1"
    warehouse.upsert_batch("review_requests", page("review_requests", [rr]))
    assert _rows(
        warehouse,
        "SELECT order_id, recipient_contact_id, status, communication_channel, item_ids, review_ids, "
        "send_date FROM review_requests",
    ) == [
        (
            rr["order"]["id"],
            rr["recipient"]["contactId"],
            "SENT",
            "EMAIL",
            ["prod-0005", "prod-x"],
            ["rev-1"],
            datetime(2024, 1, 4, 1, 25, tzinfo=UTC),
        )
    ]


def _malformed() -> list[dict[str, Any]]:
    no_id = contact(1)
    del no_id["id"]
    numeric_id = contact(2)
    numeric_id["id"] = 12345
    bad_date = contact(3)
    bad_date["createdDate"] = "yesterday"
    bad_revision = contact(4)
    bad_revision["revision"] = {"n": 1}
    bad_labels = contact(5)
    bad_labels["info"]["labelKeys"]["items"] = "vip"
    return [no_id, numeric_id, bad_date, bad_revision, bad_labels]


def test_malformed_records_are_quarantined_with_reasons(warehouse: Warehouse) -> None:
    good = [contact(10), contact(11)]
    result = warehouse.upsert_batch("contacts", page("contacts", [good[0], *_malformed(), good[1]]), run_id="r1")
    assert (result.fetched, result.inserted, result.rejected) == (7, 2, 5)
    rejected = _rows(
        warehouse,
        "SELECT position, record_id, reason, run_id, record FROM _rejected_records ORDER BY position",
    )
    assert [r[0] for r in rejected] == [2, 3, 4, 5, 6]
    reasons = [r[2] for r in rejected]
    assert "id is missing" in reasons[0]
    assert "id is missing or not a non-empty string (got 12345)" in reasons[1]
    assert 'createdDate: cannot read "yesterday" as TIMESTAMPTZ' in reasons[2]
    assert "revision: cannot read" in reasons[3]
    assert "info.labelKeys.items: expected an array" in reasons[4]
    assert rejected[2][1] == contact(3)["id"]
    assert {r[3] for r in rejected} == {"r1"}
    assert orjson.loads(rejected[2][4])["createdDate"] == "yesterday"  # the record is kept as received
    assert _rows(warehouse, "SELECT count(*) FROM contacts") == [(2,)]


def test_fractional_or_textual_rating_is_rejected_not_rounded(warehouse: Warehouse) -> None:
    half, text, ok = review(1), review(2), review(3)
    half["content"]["rating"] = 4.5
    text["content"]["rating"] = "five"
    ok["content"]["rating"] = "4"  # int64-as-string style is fine
    result = warehouse.upsert_batch("reviews", records=[half, text, ok])
    assert (result.inserted, result.rejected) == (1, 2)
    assert _rows(warehouse, "SELECT rating FROM reviews") == [(4,)]


def test_strict_mode_rejects_the_whole_batch_naming_positions(warehouse: Warehouse) -> None:
    with pytest.raises(MalformedRecordsError) as info:
        warehouse.upsert_batch("contacts", page("contacts", [contact(10), *_malformed()]), strict=True)
    assert info.value.total == 5
    assert [(r.page_index, r.position) for r in info.value.rejected] == [
        (0, 2),
        (0, 3),
        (0, 4),
        (0, 5),
        (0, 6),
    ]
    assert "page 0 position 4 id '" + contact(3)["id"] + "'" in str(info.value)
    assert _rows(warehouse, "SELECT count(*) FROM contacts") == [(0,)]
    assert _rows(warehouse, "SELECT count(*) FROM _rejected_records") == [(0,)]
    assert warehouse.get_watermark("contacts") is None


def test_invalid_json_page_fails_the_batch_naming_the_page(warehouse: Warehouse) -> None:
    with pytest.raises(MalformedPageError, match=r"page\(s\) \[1\]"):
        warehouse.upsert_batch("contacts", [page("contacts", [contact(1)]), b'{"contacts": [{"id": '])
    assert _rows(warehouse, "SELECT count(*) FROM contacts") == [(0,)]


def test_a_page_that_is_not_utf8_fails_the_batch_naming_the_page(warehouse: Warehouse) -> None:
    body = page("contacts", [contact(i) for i in range(3)])
    with pytest.raises(MalformedPageError, match=r"page\(s\) \[0\] are not valid JSON.*UTF-8"):
        warehouse.upsert_batch("contacts", [body[:60] + b"\xff\xfe" + body[60:]])
    assert _rows(warehouse, "SELECT count(*) FROM contacts") == [(0,)]


def test_record_list_that_is_not_an_array_fails_instead_of_vanishing(warehouse: Warehouse) -> None:
    with pytest.raises(MalformedPageError, match="expected an array"):
        warehouse.upsert_batch("contacts", b'{"contacts": {"id": "x"}}')


def test_page_without_the_record_key_is_an_empty_page(warehouse: Warehouse) -> None:
    result = warehouse.upsert_batch("reviews", b'{"metadata": {"count": 0, "cursors": {}}}')
    assert (result.pages, result.fetched, result.inserted) == (1, 0, 0)


def test_upsert_on_a_held_connection_commits_each_batch(warehouse: Warehouse) -> None:
    with warehouse.connect() as con:
        for k in range(3):
            upsert_batch(con, "contacts", page("contacts", [contact(i) for i in range(k * 10, k * 10 + 10)]))
        assert con.execute("SELECT count(*) FROM _load_log WHERE operation = 'upsert'").fetchall() == [(3,)]
    assert warehouse.row_counts()["contacts"] == 30


def test_unicode_and_escapes_survive(warehouse: Warehouse) -> None:
    c = copy.deepcopy(contact(1))
    c["info"]["name"]["first"] = 'Zoë "the \\ tester" 東京'
    warehouse.upsert_batch("contacts", records=[c])
    assert _rows(warehouse, "SELECT first_name FROM contacts") == [('Zoë "the \\ tester" 東京',)]
