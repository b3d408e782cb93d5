"""Pagers against an in-memory fake of Query Contacts: the keyset algorithm's exactly-once guarantee.

The fake honours the same filter subset the real API does for createdDate ($gte/$gt/$eq, $and) and sorts
by createdDate with a stable tie order, so hypothesis can throw heavy tie groups at arbitrary page sizes. The
same behaviour is proven over real HTTP against the emulator in test_contacts_paging.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from wix_pipelines.wix import Filter, Page, iter_cursor_pages, iter_keyset_pages, iter_offset_pages
from wix_pipelines.wix.models import Contact
from wix_pipelines.wix.query import format_timestamp

BASE = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


def _matches(record: dict[str, Any], expr: dict[str, Any]) -> bool:
    if "$and" in expr:
        return all(_matches(record, e) for e in expr["$and"])
    ((field, cond),) = expr.items()
    value = record[field]
    ((op, arg),) = cond.items()
    return {"$gte": value >= arg, "$gt": value > arg, "$eq": value == arg}[op]


class FakeContacts:
    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.calls: list[tuple[dict[str, Any] | None, int, int]] = []
        self.on_fetch: Any = None

    def fetch(self, flt: Filter | None, offset: int, limit: int) -> Page[Contact]:
        wire = flt.to_wire() if flt else None
        self.calls.append((wire, offset, limit))
        if self.on_fetch:
            self.on_fetch(self)
        hits = [r for r in self.records if wire is None or _matches(r, wire)]
        hits.sort(key=lambda r: (r["createdDate"], r["id"]))  # ISO ms strings sort chronologically
        page = hits[offset : offset + limit]
        return Page(items=page, raw=b"", request_id=None, model=Contact, offset=offset, total=len(hits))


def _records(group_sizes: list[int]) -> list[dict[str, Any]]:
    out = []
    for g, size in enumerate(group_sizes):
        ts = format_timestamp(BASE + timedelta(milliseconds=g))
        out.extend({"id": f"c-{g:03d}-{i:05d}", "createdDate": ts} for i in range(size))
    return out


@settings(max_examples=150, deadline=None)
@given(
    group_sizes=st.lists(st.integers(min_value=1, max_value=40), min_size=0, max_size=25),
    page_size=st.integers(min_value=1, max_value=17),
    since_group=st.none() | st.integers(min_value=0, max_value=30),
)
def test_keyset_paging_yields_every_record_once_whatever_the_ties(
    group_sizes: list[int], page_size: int, since_group: int | None
) -> None:
    records = _records(group_sizes)
    fake = FakeContacts(records)
    since = None if since_group is None else BASE + timedelta(milliseconds=since_group)
    got = [item["id"] for page in iter_keyset_pages(fake.fetch, since=since, page_size=page_size) for item in page]
    expected = [r["id"] for r in records if since is None or r["createdDate"] >= format_timestamp(since)]
    assert len(got) == len(set(got)), "a record was yielded twice"
    assert sorted(got) == sorted(expected), "a record was lost"


def test_a_tie_group_larger_than_a_page_costs_no_extra_request() -> None:
    fake = FakeContacts(_records([3, 25, 2]))
    pages = list(iter_keyset_pages(fake.fetch, since=None, page_size=10))
    assert sum(len(p) for p in pages) == 30
    tie = {"createdDate": {"$gte": format_timestamp(BASE + timedelta(milliseconds=1))}}
    # Each page after the first starts at the last record already read at the boundary (the anchor), so it
    # brings 9 new records; the offset only counts records of the one millisecond the group shares.
    assert fake.calls == [(None, 0, 10), (tie, 6, 10), (tie, 15, 10), (tie, 24, 10)]


@settings(max_examples=150, deadline=None)
@given(
    group_sizes=st.lists(st.integers(min_value=1, max_value=40), min_size=0, max_size=25),
    page_size=st.integers(min_value=2, max_value=17),
)
def test_requests_are_one_per_page_size_minus_one_new_records(group_sizes: list[int], page_size: int) -> None:
    records = _records(group_sizes)
    fake = FakeContacts(records)
    got = [item["id"] for page in iter_keyset_pages(fake.fetch, since=None, page_size=page_size) for item in page]
    assert sorted(got) == sorted(r["id"] for r in records)
    # The first page brings page_size records, every later one page_size - 1 (its first is the anchor).
    assert len(fake.calls) == 1 + -(-max(0, len(records) - page_size) // (page_size - 1))


def _tied_insert(ts_group: int, rid: str) -> dict[str, Any]:
    return {"id": rid, "createdDate": format_timestamp(BASE + timedelta(milliseconds=ts_group))}


def test_a_record_inserted_ahead_of_the_anchor_is_not_skipped() -> None:
    records = _records([3, 25, 2])
    fake = FakeContacts(records)

    def insert_ahead(f: FakeContacts) -> None:
        # Before the second request, a late writer adds to the tie group being read, with an id that sorts
        # ahead of everything read so far: the offset alone would skip it.
        if len(f.calls) == 2:
            f.records.append(_tied_insert(1, "c-001-!late"))

    fake.on_fetch = insert_ahead
    got = [i["id"] for p in iter_keyset_pages(fake.fetch, since=None, page_size=10) for i in p]
    assert len(got) == len(set(got)), "a record was yielded twice"
    assert set(got) == {r["id"] for r in fake.records}
    assert any(f and "$eq" in f.get("createdDate", {}) for f, _, _ in fake.calls), "the group was re-read"


def test_a_record_deleted_ahead_of_the_anchor_loses_nothing_else() -> None:
    records = _records([3, 25, 2])
    fake = FakeContacts(records)

    def delete_read(f: FakeContacts) -> None:
        if len(f.calls) == 3:  # one of the tied records read by the first page disappears
            f.records.remove(next(r for r in f.records if r["id"] == "c-001-00002"))

    fake.on_fetch = delete_read
    got = [i["id"] for p in iter_keyset_pages(fake.fetch, since=None, page_size=10) for i in p]
    assert len(got) == len(set(got)), "a record was yielded twice"
    assert set(got) >= {r["id"] for r in fake.records}


def _bound(wire: dict[str, Any] | None) -> tuple[str, str] | None:
    """(operator, timestamp) of the createdDate bound of a keyset request."""
    if wire is None:
        return None
    for part in wire.get("$and", [wire]):
        if "createdDate" in part:
            ((op, ts),) = part["createdDate"].items()
            return op, ts
    return None


@settings(max_examples=200, deadline=None)
@given(
    group_sizes=st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=12),
    page_size=st.integers(min_value=1, max_value=12),
    changes=st.lists(st.tuples(st.integers(0, 12), st.booleans(), st.integers(0, 10_000)), min_size=0, max_size=12),
    deletes=st.booleans(),
)
def test_records_changed_during_the_pull_are_never_lost_or_doubled(
    group_sizes: list[int], page_size: int, changes: list[tuple[int, bool, int]], deletes: bool
) -> None:
    """Between any two requests: a delete anywhere, or an insert at or after the pull's position (at its current
    timestamp with an id sorting anywhere in the tie group, or later). Inserts behind the position are for the
    next incremental pull's look-back, not for this one."""
    fake = FakeContacts(_records(group_sizes))
    original = {r["id"] for r in fake.records}
    deleted: set[str] = set()

    def change(f: FakeContacts) -> None:
        bound = _bound(f.calls[-1][0])
        if not changes or (bound is not None and bound[0] == "$eq"):
            return  # none while a tie group is re-read: its rounds are bounded
        group, early, key = changes.pop(0)
        if deletes:
            victims = sorted(r["id"] for r in f.records)
            if victims:
                victim = victims[key % len(victims)]
                deleted.add(victim)
                f.records[:] = [r for r in f.records if r["id"] != victim]
            return
        ts = format_timestamp(BASE + timedelta(milliseconds=group))
        if bound is not None and (ts < bound[1] or (ts == bound[1] and bound[0] == "$gt")):
            ts = format_timestamp(datetime.fromisoformat(bound[1]) + timedelta(milliseconds=bound[0] == "$gt"))
        rid = f"c-{'!' if early else '~'}{key:05d}-{len(f.calls)}"  # sorts ahead of or after the group
        f.records.append({"id": rid, "createdDate": ts})

    fake.on_fetch = change
    got = [i["id"] for p in iter_keyset_pages(fake.fetch, since=None, page_size=page_size) for i in p]
    assert len(got) == len(set(got)), "a record was yielded twice"
    if deletes:
        assert set(got) >= original - deleted, "a record that was there all along was lost"
    else:
        assert set(got) == {r["id"] for r in fake.records}, "a record was lost"


def test_exclude_ids_skips_records_already_loaded_at_the_watermark() -> None:
    fake = FakeContacts(_records([4, 4]))
    since = BASE
    loaded = {"c-000-00000", "c-000-00001"}
    got = [i["id"] for p in iter_keyset_pages(fake.fetch, since=since, page_size=3, exclude_ids=loaded) for i in p]
    assert len(got) == 6 and not loaded & set(got)


def test_offset_pager_stops_on_total_and_skips_empty_pages() -> None:
    data = list(range(23))
    calls: list[int] = []

    def fetch(offset: int, limit: int) -> Page[Contact]:
        calls.append(offset)
        items = [{"id": str(i)} for i in data[offset : offset + limit]]
        return Page(items=items, raw=b"", request_id=None, total=len(data))

    pages = list(iter_offset_pages(fetch, limit=10))
    assert [len(p) for p in pages] == [10, 10, 3]
    assert calls == [0, 10, 20]
    calls.clear()
    data[:] = list(range(20))  # exact multiple: total stops us without an extra empty request
    assert [len(p) for p in iter_offset_pages(fetch, limit=10)] == [10, 10]
    assert calls == [0, 10]


def test_cursor_pager_sends_only_the_cursor_on_follow_ups() -> None:
    bodies: list[dict[str, Any]] = []

    def send(body: dict[str, Any]) -> Page[Contact]:
        bodies.append(body)
        n = len(bodies)
        return Page(items=[{"id": str(n)}], raw=b"", request_id=None, next_cursor=f"cur{n}" if n < 3 else None)

    query = {
        "filter": {"namespace": {"$eq": "stores"}},
        "sort": [{"fieldName": "createdDate", "order": "ASC"}],
    }
    pages = list(iter_cursor_pages(send, query, limit=5, extra_body={"returnPrivateReviews": True}))
    assert len(pages) == 3
    assert bodies[0] == {"query": {**query, "cursorPaging": {"limit": 5}}, "returnPrivateReviews": True}
    assert bodies[1] == {
        "query": {"cursorPaging": {"cursor": "cur1", "limit": 5}},
        "returnPrivateReviews": True,
    }
    assert bodies[2]["query"] == {"cursorPaging": {"cursor": "cur2", "limit": 5}}
