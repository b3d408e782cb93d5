"""A small, typed builder for the Wix query language (SPEC.md §2.6).

Example::

    f = Filter.gte("createdDate", datetime(2024, 1, 1, tzinfo=UTC)) & Filter.in_("info.locale", ["en", "de"])
    Query(filter=f, sort=[Sort("createdDate")]).to_wire()
    # {"filter": {"$and": [{"createdDate": {"$gte": "2024-01-01T00:00:00.000Z"}},
    #                      {"info.locale": {"$in": ["en", "de"]}}]},
    #  "sort": [{"fieldName": "createdDate", "order": "ASC"}]}

Equality is sent as explicit ``{"$eq": v}`` rather than the implicit form so a dict value can never be
mistaken for an operator object. Datetimes become ISO-8601 UTC with milliseconds and ``Z`` (the form Wix
emits, §2.2); dates become ``YYYY-MM-DD``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

__all__ = ["Filter", "Query", "Sort", "SortOrder", "format_timestamp", "to_wire_value"]

SortOrder = Literal["ASC", "DESC"]


def format_timestamp(value: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``; naive datetimes are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def to_wire_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_wire_value(v) for v in value]
    if isinstance(value, Mapping):
        return {k: to_wire_value(v) for k, v in value.items()}
    return value


class Filter:
    """An immutable filter expression. Combine with ``&`` (``$and``), ``|`` (``$or``) and ``~`` (``$not``)."""

    __slots__ = ("_expr",)

    def __init__(self, expr: Mapping[str, Any]) -> None:
        self._expr: dict[str, Any] = dict(expr)

    # -- constructors ----------------------------------------------------------------------------------------

    @classmethod
    def raw(cls, expr: Mapping[str, Any]) -> Filter:
        """Wrap an already-built wire expression (escape hatch for operators not covered below)."""
        return cls(expr)

    @classmethod
    def _op(cls, field_name: str, op: str, value: Any) -> Filter:
        return cls({field_name: {op: to_wire_value(value)}})

    @classmethod
    def eq(cls, field_name: str, value: Any) -> Filter:
        return cls._op(field_name, "$eq", value)

    @classmethod
    def ne(cls, field_name: str, value: Any) -> Filter:
        return cls._op(field_name, "$ne", value)

    @classmethod
    def gt(cls, field_name: str, value: Any) -> Filter:
        return cls._op(field_name, "$gt", value)

    @classmethod
    def gte(cls, field_name: str, value: Any) -> Filter:
        return cls._op(field_name, "$gte", value)

    @classmethod
    def lt(cls, field_name: str, value: Any) -> Filter:
        return cls._op(field_name, "$lt", value)

    @classmethod
    def lte(cls, field_name: str, value: Any) -> Filter:
        return cls._op(field_name, "$lte", value)

    @classmethod
    def in_(cls, field_name: str, values: Iterable[Any]) -> Filter:
        return cls._op(field_name, "$in", list(values))

    @classmethod
    def nin(cls, field_name: str, values: Iterable[Any]) -> Filter:
        return cls._op(field_name, "$nin", list(values))

    @classmethod
    def exists(cls, field_name: str, exists: bool = True) -> Filter:
        return cls._op(field_name, "$exists", bool(exists))

    @classmethod
    def starts_with(cls, field_name: str, prefix: str) -> Filter:
        return cls._op(field_name, "$startsWith", prefix)

    @classmethod
    def has_some(cls, field_name: str, values: Iterable[Any]) -> Filter:
        return cls._op(field_name, "$hasSome", list(values))

    @classmethod
    def has_all(cls, field_name: str, values: Iterable[Any]) -> Filter:
        return cls._op(field_name, "$hasAll", list(values))

    @classmethod
    def is_empty(cls, field_name: str, empty: bool = True) -> Filter:
        return cls._op(field_name, "$isEmpty", bool(empty))

    @classmethod
    def all_of(cls, *filters: Filter | None) -> Filter | None:
        """``$and`` of the given filters, skipping ``None``; ``None`` when nothing is left."""
        present = [f for f in filters if f is not None]
        if not present:
            return None
        result = present[0]
        for f in present[1:]:
            result = result & f
        return result

    # -- combinators -----------------------------------------------------------------------------------------

    def _combine(self, other: Filter, op: str) -> Filter:
        if not isinstance(other, Filter):
            return NotImplemented
        terms: list[Any] = []
        for f in (self, other):
            # Flatten nested same-operator groups so a & b & c is one $and of three, not a tree.
            if list(f._expr) == [op]:
                terms.extend(f._expr[op])
            else:
                terms.append(f._expr)
        return Filter({op: terms})

    def __and__(self, other: Filter) -> Filter:
        return self._combine(other, "$and")

    def __or__(self, other: Filter) -> Filter:
        return self._combine(other, "$or")

    def __invert__(self) -> Filter:
        return Filter({"$not": self._expr})

    def to_wire(self) -> dict[str, Any]:
        return _deep_copy(self._expr)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Filter) and self._expr == other._expr

    def __hash__(self) -> int:
        return hash(repr(self._expr))

    def __repr__(self) -> str:
        return f"Filter({self._expr!r})"


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Sort:
    field_name: str
    order: SortOrder = "ASC"

    def __post_init__(self) -> None:
        if self.order not in ("ASC", "DESC"):
            raise ValueError(f"sort order must be 'ASC' or 'DESC', not {self.order!r}")

    def to_wire(self) -> dict[str, str]:
        return {"fieldName": self.field_name, "order": self.order}


@dataclass(frozen=True, slots=True)
class Query:
    """The ``query`` object of a Query endpoint, without paging (pagers add ``paging``/``cursorPaging``)."""

    filter: Filter | None = None
    sort: Sequence[Sort] = field(default_factory=tuple)
    fields: Sequence[str] = field(default_factory=tuple)
    fieldsets: Sequence[str] = field(default_factory=tuple)

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.filter is not None:
            out["filter"] = self.filter.to_wire()
        if self.sort:
            out["sort"] = [s.to_wire() for s in self.sort]
        if self.fields:
            out["fields"] = list(self.fields)
        if self.fieldsets:
            out["fieldsets"] = list(self.fieldsets)
        return out

    def with_filter(self, extra: Filter | None) -> Query:
        return Query(Filter.all_of(self.filter, extra), self.sort, self.fields, self.fieldsets)
