"""Property tests of paging in-process (no HTTP): any page sizes, sorts and tie patterns give every record once."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from wix_pipelines.emulator.paging import cursor_page, offset_page
from wix_pipelines.emulator.query import CONTACTS_SPEC, REVIEWS_SPEC
from wix_pipelines.emulator.store import Collection
from wix_pipelines.emulator.timeutil import ms_to_iso


def reviews(created: list[int], ratings: list[int]) -> Collection:
    collection = Collection("reviews")
    collection.bulk_load(
        {"id": f"r-{i:04d}", "createdDate": ms_to_iso(1_700_000_000_000 + ms), "content": {"rating": rating},
         "helpfulness": rating - 3}
        for i, (ms, rating) in enumerate(zip(created, ratings, strict=False))
    )  # fmt: skip
    return collection


@settings(max_examples=40, deadline=None)
@given(
    created=st.lists(st.integers(0, 5), min_size=0, max_size=60),  # few distinct values: many ties
    ratings=st.lists(st.integers(1, 5), min_size=60, max_size=60),
    limits=st.lists(st.integers(1, 9), min_size=1, max_size=5),
    sort=st.sampled_from([None, [{"fieldName": "createdDate", "order": "DESC"}], [{"fieldName": "content.rating"}],
                          [{"fieldName": "helpfulness", "order": "DESC"}, {"fieldName": "createdDate"}]]),
)  # fmt: skip
def test_cursor_paging_returns_each_record_exactly_once_in_sort_order(
    created: list[int], ratings: list[int], limits: list[int], sort: list[dict[str, str]] | None
) -> None:
    collection = reviews(created, ratings)
    query: dict[str, Any] = {"cursorPaging": {"limit": limits[0]}, **({"sort": sort} if sort else {})}
    seen: list[str] = []
    for turn in range(200):
        page = orjson.loads(cursor_page(collection, REVIEWS_SPEC, query, "reviews", "metadata"))
        seen += [r["id"] for r in page["reviews"]]
        cursor = page["metadata"]["cursors"]["next"]
        if cursor is None:
            break
        query = {"cursorPaging": {"cursor": cursor, "limit": limits[(turn + 1) % len(limits)]}}
    assert sorted(seen) == sorted(collection.records)
    assert len(seen) == len(set(seen))
    one_page = orjson.loads(
        cursor_page(
            collection,
            REVIEWS_SPEC,
            {"cursorPaging": {"limit": 100}, **({"sort": sort} if sort else {})},
            "reviews",
            "metadata",
        )
    )
    assert [r["id"] for r in one_page["reviews"]] == seen


@settings(max_examples=25, deadline=None)
@given(created=st.lists(st.integers(0, 3), min_size=1, max_size=80), limit=st.integers(1, 30))
def test_offset_pages_partition_the_result_and_total_is_exact(created: list[int], limit: int) -> None:
    collection = Collection("contacts")
    collection.bulk_load({"id": f"c-{i:03d}", "createdDate": ms_to_iso(ms)} for i, ms in enumerate(created))
    seen: list[str] = []
    for offset in range(0, len(created) + limit, limit):
        page = orjson.loads(offset_page(collection, CONTACTS_SPEC, None, None, limit, offset, "contacts"))
        assert page["pagingMetadata"]["total"] == len(created)
        seen += [c["id"] for c in page["contacts"]]
    assert seen == [rid for _, rid in sorted((c["createdDate"], c["id"]) for c in collection.values())]


def test_id_lookups_answer_without_scanning_and_respect_other_rules() -> None:
    collection = reviews([1, 2, 3], [5, 4, 3])
    body = orjson.loads(
        offset_page(collection, REVIEWS_SPEC, {"id": {"$in": ["r-0002", "nope", "r-0000"]}}, None, 10, 0, "x")
    )
    assert [r["id"] for r in body["x"]] == ["r-0000", "r-0002"]
