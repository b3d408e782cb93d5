"""The query builder renders the wire shapes of SPEC.md §2.6."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from wix_pipelines.wix import Filter, Query, Sort, format_timestamp


def test_comparison_operators_render_explicit_wire_operators() -> None:
    cases = {
        Filter.eq("a", 1): {"a": {"$eq": 1}},
        Filter.ne("a", 1): {"a": {"$ne": 1}},
        Filter.gt("a", 1): {"a": {"$gt": 1}},
        Filter.gte("a", 1): {"a": {"$gte": 1}},
        Filter.lt("a", 1): {"a": {"$lt": 1}},
        Filter.lte("a", 1): {"a": {"$lte": 1}},
        Filter.in_("a", (1, 2)): {"a": {"$in": [1, 2]}},
        Filter.nin("a", [1]): {"a": {"$nin": [1]}},
        Filter.exists("a"): {"a": {"$exists": True}},
        Filter.exists("a", False): {"a": {"$exists": False}},
        Filter.starts_with("info.name.first", "Da"): {"info.name.first": {"$startsWith": "Da"}},
        Filter.has_some("info.labelKeys", ["x"]): {"info.labelKeys": {"$hasSome": ["x"]}},
        Filter.has_all("info.labelKeys", ["x", "y"]): {"info.labelKeys": {"$hasAll": ["x", "y"]}},
        Filter.is_empty("content.media"): {"content.media": {"$isEmpty": True}},
    }
    for built, wire in cases.items():
        assert built.to_wire() == wire


def test_and_or_not_combine_and_flatten() -> None:
    a, b, c = Filter.eq("a", 1), Filter.eq("b", 2), Filter.eq("c", 3)
    assert (a & b & c).to_wire() == {"$and": [{"a": {"$eq": 1}}, {"b": {"$eq": 2}}, {"c": {"$eq": 3}}]}
    assert (a | b).to_wire() == {"$or": [{"a": {"$eq": 1}}, {"b": {"$eq": 2}}]}
    assert (~a).to_wire() == {"$not": {"a": {"$eq": 1}}}
    assert ((a | b) & ~c).to_wire() == {
        "$and": [{"$or": [{"a": {"$eq": 1}}, {"b": {"$eq": 2}}]}, {"$not": {"c": {"$eq": 3}}}]
    }
    assert Filter.all_of(None, a, None) == a
    assert Filter.all_of() is None


def test_datetimes_render_as_utc_milliseconds_with_z() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert format_timestamp(datetime(2024, 3, 4, 11, 15, 27, 412_999, tzinfo=plus2)) == "2024-03-04T09:15:27.412Z"
    assert format_timestamp(datetime(2024, 3, 4, 9, 15, 27)) == "2024-03-04T09:15:27.000Z"  # naive = UTC
    f = Filter.gte("createdDate", datetime(2024, 1, 1, tzinfo=UTC)) & Filter.eq("info.birthdate", date(1990, 7, 14))
    assert f.to_wire() == {
        "$and": [
            {"createdDate": {"$gte": "2024-01-01T00:00:00.000Z"}},
            {"info.birthdate": {"$eq": "1990-07-14"}},
        ]
    }


def test_query_renders_filter_sort_fields_and_fieldsets() -> None:
    q = Query(
        filter=Filter.eq("primaryInfo.email", "dana@example.org"),
        sort=[Sort("createdDate", "DESC")],
        fields=["info.name"],
        fieldsets=["BASIC"],
    )
    assert q.to_wire() == {
        "filter": {"primaryInfo.email": {"$eq": "dana@example.org"}},
        "sort": [{"fieldName": "createdDate", "order": "DESC"}],
        "fields": ["info.name"],
        "fieldsets": ["BASIC"],
    }
    assert Query().to_wire() == {}
    assert q.with_filter(Filter.exists("id")).to_wire()["filter"] == {
        "$and": [{"primaryInfo.email": {"$eq": "dana@example.org"}}, {"id": {"$exists": True}}]
    }


def test_sort_rejects_unknown_order() -> None:
    with pytest.raises(ValueError):
        Sort("createdDate", "UP")  # type: ignore[arg-type]


def test_built_filters_are_not_shared_mutable_state() -> None:
    f = Filter.in_("a", [1])
    wire = f.to_wire()
    wire["a"]["$in"].append(2)
    assert f.to_wire() == {"a": {"$in": [1]}}
