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


def test_tie_group_larger_than_a_page_is_drained_with_eq_offset_paging() -> None:
    fake = FakeContacts(_records([3, 25, 2]))
    pages = list(iter_keyset_pages(fake.fetch, since=None, page_size=10))
    assert sum(len(p) for p in pages) == 30
    tie_ts = format_timestamp(BASE + timedelta(milliseconds=1))
    eq_calls = [(f, off) for f, off, _ in fake.calls if f and f.get("createdDate", {}).get("$eq") == tie_ts]
    # The drain starts after the 10 tied records the >= page already returned: no request reads them twice.
    assert [off for _, off in eq_calls] == [10, 20]
    # After the drain the pager moves strictly past the tie, with no offset.
    assert fake.calls[-1] == ({"createdDate": {"$gt": tie_ts}}, 0, 10)
    # Outside a tie group no request uses an offset.
    assert all(off == 0 for f, off, _ in fake.calls if not (f and "$eq" in f.get("createdDate", {})))


def test_records_inserted_during_the_pull_are_picked_up_once() -> None:
    records = _records([5, 30, 5])
    fake = FakeContacts(records)
    inserted: list[str] = []

    def insert_newer(f: FakeContacts) -> None:
        # Each request, another contact lands "now", i.e. after everything already there.
        n = len(inserted)
        if n < 8:
            rid = f"new-{n}"
            inserted.append(rid)
            f.records.append({"id": rid, "createdDate": format_timestamp(BASE + timedelta(seconds=10 + n))})

    fake.on_fetch = insert_newer
    got = [i["id"] for p in iter_keyset_pages(fake.fetch, since=None, page_size=7) for i in p]
    assert len(got) == len(set(got))
    assert set(got) == {r["id"] for r in records}  # includes every inserted one that existed by the end


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
