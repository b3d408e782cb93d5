"""Filters answered from index slices match exactly what a scan of every record matches, in the same order.

The store narrows `createdDate`/`updatedDate` ranges (and `$or`/`$and` of them) with sorted indexes and lets the
predicate decide; these tests compare it with the predicate run over every record, on small collections full of
ties, missing dates and records changed after the index was built.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from wix_pipelines.emulator.paging import offset_page
from wix_pipelines.emulator.query import CONTACTS_SPEC, compile_filter, parse_sort, sort_ids
from wix_pipelines.emulator.store import Collection
from wix_pipelines.emulator.timeutil import ms_to_iso

BASE_MS = 1_700_000_000_000
DATE_FIELDS = ("createdDate", "updatedDate")
RANGE_OPS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")


def _iso(step: int) -> str:
    return ms_to_iso(BASE_MS + step)


def _contact(i: int, created: int, updated: int | None, company: str) -> dict[str, Any]:
    record: dict[str, Any] = {"id": f"c-{i:03d}", "createdDate": _iso(created), "info": {"company": company}}
    if updated is not None:
        record["updatedDate"] = _iso(updated)
    return record


def _scan(collection: Collection, raw_filter: Any, raw_sort: Any) -> list[str]:
    """The reference: the predicate over every record, sorted as the store sorts a createdDate-ordered scan."""
    flt = compile_filter(CONTACTS_SPEC, raw_filter)
    sort = parse_sort(CONTACTS_SPEC, raw_sort)
    records = collection.records
    found = [rid for rid, record in records.items() if flt.predicate is None or flt.predicate(record)]
    if sort.is_created_only:
        return sorted(found, key=lambda rid: (records[rid].get("createdDate") or "", rid), reverse=sort.fields[0][1])
    return sort_ids(CONTACTS_SPEC, sort, found, records)


def _ids(collection: Collection, raw_filter: Any, raw_sort: Any) -> list[str]:
    body = offset_page(collection, CONTACTS_SPEC, raw_filter, raw_sort, 1000, 0, "contacts")
    return [record["id"] for record in orjson.loads(body)["contacts"]]


steps = st.integers(0, 12)  # few distinct timestamps: many ties
leaf_dates = st.builds(
    lambda f, op, t: {f: {op: _iso(t)}}, st.sampled_from(DATE_FIELDS), st.sampled_from(RANGE_OPS), steps
)
leaf_range = st.builds(
    lambda f, lo, hi: {f: {"$gte": _iso(lo), "$lt": _iso(hi)}}, st.sampled_from(DATE_FIELDS), steps, steps
)
leaf_company = st.sampled_from([{"info.company": "Acme"}, {"info.company": {"$startsWith": "b"}}])
filters = st.recursive(
    st.one_of(leaf_dates, leaf_range, leaf_company),
    lambda inner: st.one_of(
        st.builds(lambda parts: {"$or": parts}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda parts: {"$and": parts}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda a, b: {**a, **b}, leaf_dates, leaf_company),
        st.builds(lambda part: {"$not": part}, inner),
    ),
    max_leaves=6,
)
sorts = st.sampled_from(
    [None, [{"fieldName": "createdDate", "order": "DESC"}], [{"fieldName": "info.company", "order": "ASC"}]]
)
contacts = st.lists(
    st.tuples(steps, st.none() | steps, st.sampled_from(["Acme", "Beta", "bolt"])), min_size=0, max_size=40
)


@settings(max_examples=300, deadline=None)
@given(rows=contacts, raw_filter=filters, raw_sort=sorts, edits=st.lists(st.tuples(st.integers(0, 39), steps)))
def test_index_slices_match_a_full_scan_in_order(
    rows: list[tuple[int, int | None, str]],
    raw_filter: dict[str, Any],
    raw_sort: list[dict[str, str]] | None,
    edits: list[tuple[int, int]],
) -> None:
    collection = Collection("contacts")
    collection.plan_max_share = 1.0  # every bounded filter goes through the slices, however wide
    collection.bulk_load(_contact(i, created, updated, company) for i, (created, updated, company) in enumerate(rows))
    assert _ids(collection, raw_filter, raw_sort) == _scan(collection, raw_filter, raw_sort)

    # Changes after the indexes exist: updates through put (also of a dict changed in place), and deletes.
    for n, (which, step) in enumerate(edits):
        record = collection.get(f"c-{which:03d}")
        if record is None:
            continue
        if n % 3 == 0:
            collection.remove(record["id"])
        elif n % 3 == 1:
            collection.put({**record, "updatedDate": _iso(step)})
        else:
            record["updatedDate"] = _iso(step)  # changed in place, then handed back
            collection.put(record)
    assert _ids(collection, raw_filter, raw_sort) == _scan(collection, raw_filter, raw_sort)


def test_an_incremental_query_reads_index_slices_not_every_contact() -> None:
    collection = Collection("contacts")
    collection.bulk_load(_contact(i, i, i, "Acme") for i in range(20_000))
    changed = {"$or": [{"createdDate": {"$gte": _iso(19_990)}}, {"updatedDate": {"$gte": _iso(19_995)}}]}
    flt = compile_filter(CONTACTS_SPEC, {"$and": [changed, {"createdDate": {"$gte": _iso(19_992)}}]})

    calls = 0
    predicate = flt.predicate
    assert predicate is not None

    def counting(record: dict[str, Any]) -> bool:
        nonlocal calls
        calls += 1
        return predicate(record)

    flt.predicate = counting
    ids = collection.matching_ids(CONTACTS_SPEC, flt, parse_sort(CONTACTS_SPEC, None))

    assert ids == [f"c-{i:03d}" for i in range(19_992, 20_000)]
    assert calls <= 20, f"the predicate ran on {calls} records: the filter was answered by a scan"


def test_keyset_pages_of_a_large_collection_match_a_scan_and_see_later_writes() -> None:
    # Over 10k matches the createdDate fast path hands out a view of its index instead of a copy.
    collection = Collection("contacts")
    for i in range(12_500):
        collection.put(_contact(i, i // 3, None, "Acme"))  # ties of three
    for order in ("ASC", "DESC"):
        raw_sort = [{"fieldName": "createdDate", "order": order}]
        raw_filter = {"createdDate": {"$gte": _iso(100)}}
        expected = _scan(collection, raw_filter, raw_sort)
        assert len(expected) > 12_000
        pages = [
            orjson.loads(offset_page(collection, CONTACTS_SPEC, raw_filter, raw_sort, 1000, offset, "contacts"))
            for offset in range(0, len(expected) + 1000, 1000)
        ]
        assert [r["id"] for p in pages for r in p["contacts"]] == expected
        assert {p["pagingMetadata"]["total"] for p in pages} == {len(expected)}
    # A write between two queries: the next one sees it (the view is never served after a write).
    collection.put(_contact(99_999, 5_000, None, "Acme"))
    raw_filter, raw_sort = {"createdDate": {"$gte": _iso(100)}}, [{"fieldName": "createdDate", "order": "DESC"}]
    first = orjson.loads(offset_page(collection, CONTACTS_SPEC, raw_filter, raw_sort, 1000, 0, "contacts"))
    assert first["contacts"][0]["id"] == "c-99999"
    assert first["pagingMetadata"]["total"] == len(expected) + 1


def test_keyset_pages_of_a_filtered_query_slice_the_base_matches_once() -> None:
    """`base AND createdDate >= anchor`, page after page (an incremental pull's `$or` query): each page is a slice of
    the base's matches, computed once per collection version, and equals the scan, also after a write."""

    class CountingCollection(Collection):
        computed = 0

        def _compute(self, *args: Any) -> Any:
            self.computed += 1
            return super()._compute(*args)

    collection = CountingCollection("contacts")
    collection.bulk_load(_contact(i, i // 4, (3000 - i) // 4 if i % 7 == 0 else None, "Acme") for i in range(3000))
    base = {"$or": [{"createdDate": {"$gte": _iso(600)}}, {"updatedDate": {"$gte": _iso(500)}}]}
    anchors = [_iso(step) for step in range(0, 760, 40)]
    for anchor in anchors:
        raw_filter = {"$and": [base, {"createdDate": {"$gte": anchor}}]}
        assert _ids(collection, raw_filter, None) == _scan(collection, raw_filter, None)
    assert collection.computed == 1

    collection.put(_contact(5000, 700, 900, "Acme"))  # a write: the next page computes the base again
    raw_filter = {"$and": [base, {"createdDate": {"$gt": _iso(650), "$lte": _iso(710)}}]}
    page = _ids(collection, raw_filter, None)
    assert "c-5000" in page and page == _scan(collection, raw_filter, None)
    assert collection.computed == 2
