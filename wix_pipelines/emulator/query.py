"""The Wix query language (SPEC.md §2.6): validation against a per-API table, compilation to a predicate, sort.

A filter is validated and compiled once per request into nested closures; the store caches the ids it
matches per (filter, sort, store version), so paging through a large result does not re-run the predicate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from wix_pipelines.emulator.errors import ApiError
from wix_pipelines.emulator.timeutil import normalize_iso

Record = dict[str, Any]
Predicate = Callable[[Record], bool]
Getter = Callable[[Record], list[Any]]

EQ = "$eq"
NE = "$ne"
IN = "$in"
NIN = "$nin"
EXISTS = "$exists"
GT = "$gt"
GTE = "$gte"
LT = "$lt"
LTE = "$lte"
STARTS = "$startsWith"
BEGINS = "$begins"  # newer contact docs' name for $startsWith (SPEC.md §2.6); accepted as an alias
ENDS = "$endsWith"
CONTAINS = "$contains"
HAS_SOME = "$hasSome"
HAS_ALL = "$hasAll"
IS_EMPTY = "$isEmpty"
RANGE = frozenset({GT, GTE, LT, LTE})
ALL_OPERATORS = frozenset(
    {EQ, NE, IN, NIN, EXISTS, GT, GTE, LT, LTE, STARTS, ENDS, CONTAINS, HAS_SOME, HAS_ALL, IS_EMPTY}
)


@dataclass(frozen=True)
class FieldSpec:
    """Operators a field accepts, how its values compare (`kind`), and whether it can be sorted on."""

    ops: frozenset[str]
    kind: str = "string"  # string | date | number | bool | any
    sortable: bool = False


@dataclass(frozen=True)
class QuerySpec:
    """One API's filter/sort table plus its error codes and paging limits."""

    api: str
    fields: dict[str, FieldSpec]
    prefix_fields: dict[str, FieldSpec] = field(default_factory=dict)
    unknown_field_code: str = "UNSUPPORTED_FILTER_FIELD"
    sort_code: str = "UNSUPPORTED_SORT_FIELD"
    max_sort: int = 5
    max_limit: int = 100
    default_limit: int = 50
    path_aliases: dict[str, str] = field(default_factory=dict)

    def field_spec(self, name: str) -> FieldSpec | None:
        spec = self.fields.get(name)
        if spec is not None:
            return spec
        for prefix, prefix_spec in self.prefix_fields.items():
            if name.startswith(prefix) and len(name) > len(prefix):
                return prefix_spec
        return None


def malformed(description: str) -> ApiError:
    return ApiError(400, "MALFORMED_FILTER", description)


# ----------------------------------------------------------------------------------------------- paths


def _resolve(obj: Any, parts: list[str], i: int, out: list[Any]) -> None:
    """Collect the values at `parts[i:]` below `obj`.

    Lists fan out (any-match semantics); `{items: [...]}` wrappers used by contacts are stepped through; a
    key that itself contains dots (extended-field keys such as `emailSubscriptions.subscriptionStatus`) is
    matched by trying the whole remainder as one key.
    """
    while True:
        if isinstance(obj, list):
            for element in obj:
                _resolve(element, parts, i, out)
            return
        if i == len(parts):
            if isinstance(obj, dict) and "items" in obj and len(obj) == 1:
                obj = obj["items"]
            out.append(obj)
            return
        if not isinstance(obj, dict):
            return
        seg = parts[i]
        if seg in obj:
            obj = obj[seg]
            i += 1
            continue
        rest = ".".join(parts[i:])
        if rest in obj:
            out.append(obj[rest])
            return
        if "items" in obj:
            obj = obj["items"]
            continue
        return


def make_getter(path: str) -> Getter:
    if "." not in path:

        def top(rec: Record) -> list[Any]:
            value = rec.get(path)
            return [] if value is None else [value]

        return top
    parts = path.split(".")

    def nested(rec: Record) -> list[Any]:
        out: list[Any] = []
        _resolve(rec, parts, 0, out)
        return out

    return nested


def _candidates(values: list[Any]) -> list[Any]:
    flat: list[Any] = []
    for value in values:
        if isinstance(value, list):
            flat.extend(value)
        elif value is not None:
            flat.append(value)
    return flat


# ------------------------------------------------------------------------------------------- values


def _check_value(spec: QuerySpec, fname: str, fspec: FieldSpec, op: str, value: Any) -> Any:
    """Validate an operand and convert it to the stored representation (dates → canonical ISO text)."""
    if isinstance(value, dict) and set(value) == {"$date"}:
        value = value["$date"]
    if op in (IN, NIN, HAS_SOME, HAS_ALL):
        if not isinstance(value, list):
            raise ApiError(400, "UNSUPPORTED_FILTER_VALUE_TYPE", f"{op} on {fname} needs a list, got {value!r}")
        return [_check_scalar(fname, fspec, op, v) for v in value]
    if op in (EXISTS, IS_EMPTY):
        if not isinstance(value, bool):
            raise ApiError(400, "UNSUPPORTED_FILTER_VALUE_TYPE", f"{op} on {fname} needs true or false, got {value!r}")
        return value
    if op in (STARTS, ENDS, CONTAINS):
        if not isinstance(value, str):
            raise ApiError(400, "UNSUPPORTED_FILTER_VALUE_TYPE", f"{op} on {fname} needs a string, got {value!r}")
        return value.lower()
    if value is None:
        if op in RANGE:
            raise ApiError(400, "UNSUPPORTED_FILTER_VALUE", f"{op} on {fname} cannot compare with null")
        return None
    return _check_scalar(fname, fspec, op, value)


def _check_scalar(fname: str, fspec: FieldSpec, op: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dict) and set(value) == {"$date"}:
        value = value["$date"]
    if fspec.kind == "date":
        if not isinstance(value, str):
            raise ApiError(
                400, "UNSUPPORTED_FILTER_VALUE_TYPE", f"{op} on {fname} needs an ISO-8601 date, got {value!r}"
            )
        try:
            return normalize_iso(value)
        except ValueError:
            raise ApiError(
                400, "UNSUPPORTED_FILTER_VALUE", f"{op} on {fname}: {value!r} is not an ISO-8601 timestamp"
            ) from None
    if fspec.kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        # Some int64 fields travel as strings; accept numeric text too.
        if isinstance(value, str):
            try:
                return float(value) if "." in value else int(value)
            except ValueError:
                pass
        raise ApiError(400, "UNSUPPORTED_FILTER_VALUE_TYPE", f"{op} on {fname} needs a number, got {value!r}")
    if fspec.kind == "bool" and not isinstance(value, bool):
        raise ApiError(400, "UNSUPPORTED_FILTER_VALUE_TYPE", f"{op} on {fname} needs true/false, got {value!r}")
    if isinstance(value, dict | list):
        raise ApiError(400, "UNSUPPORTED_FILTER_VALUE_TYPE", f"{op} on {fname} got a non-scalar {value!r}")
    return value


def _comparable(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return True
    return type(a) is type(b)


def _op_predicate(get: Getter, op: str, value: Any) -> Predicate:
    if op == EQ:
        if value is None:  # SDK isEmpty(f) → {"f": null}
            return lambda r: not _candidates(get(r))
        return lambda r: any(c == value for c in _candidates(get(r)))
    if op == NE:
        if value is None:  # SDK isNotEmpty(f) → {"f": {"$ne": null}}
            return lambda r: bool(_candidates(get(r)))
        return lambda r: all(c != value for c in _candidates(get(r)))
    if op == IN:
        pool = set(v for v in value if v is not None)
        with_null = any(v is None for v in value)
        return lambda r: any(c in pool for c in cands) if (cands := _candidates(get(r))) else with_null
    if op == NIN:
        pool = set(value)
        return lambda r: all(c not in pool for c in _candidates(get(r)))
    if op == EXISTS:
        return lambda r: bool(_candidates(get(r))) == value
    if op == IS_EMPTY:
        return lambda r: (not _candidates(get(r))) == value
    if op == HAS_SOME:
        pool = set(value)
        return lambda r: any(c in pool for c in _candidates(get(r)))
    if op == HAS_ALL:
        needed = set(value)
        return lambda r: needed.issubset(_candidates(get(r)))
    if op == STARTS:
        return lambda r: any(isinstance(c, str) and c.lower().startswith(value) for c in _candidates(get(r)))
    if op == ENDS:
        return lambda r: any(isinstance(c, str) and c.lower().endswith(value) for c in _candidates(get(r)))
    if op == CONTAINS:
        return lambda r: any(isinstance(c, str) and value in c.lower() for c in _candidates(get(r)))
    if op == GT:
        return lambda r: any(_comparable(c, value) and c > value for c in _candidates(get(r)))
    if op == GTE:
        return lambda r: any(_comparable(c, value) and c >= value for c in _candidates(get(r)))
    if op == LT:
        return lambda r: any(_comparable(c, value) and c < value for c in _candidates(get(r)))
    if op == LTE:
        return lambda r: any(_comparable(c, value) and c <= value for c in _candidates(get(r)))
    raise malformed(f"unknown operator {op}")


# ------------------------------------------------------------------------------------------- filter


# ------------------------------------------------------------------------------------------ index plans


@dataclass(frozen=True)
class RangePlan:
    """Records whose top-level date `field` lies in a range: a slice of that field's sorted index."""

    field: str
    lo: str | None = None
    lo_inc: bool = True
    hi: str | None = None
    hi_inc: bool = True

    def narrowed(self, other: RangePlan) -> RangePlan:
        """The intersection of two ranges on the same field."""
        lo, lo_inc, hi, hi_inc = self.lo, self.lo_inc, self.hi, self.hi_inc
        if other.lo is not None and (lo is None or other.lo > lo or (other.lo == lo and not other.lo_inc)):
            lo, lo_inc = other.lo, other.lo_inc
        if other.hi is not None and (hi is None or other.hi < hi or (other.hi == hi and not other.hi_inc)):
            hi, hi_inc = other.hi, other.hi_inc
        return RangePlan(self.field, lo, lo_inc, hi, hi_inc)


@dataclass(frozen=True)
class UnionPlan:
    """`$or` of parts that are all answerable from indexes."""

    parts: tuple[Plan, ...]


@dataclass(frozen=True)
class AllPlan:
    """A conjunction: any one part is a superset of the result; the store reads the smallest."""

    parts: tuple[Plan, ...]


Plan = RangePlan | UnionPlan | AllPlan


def _plan_all(plans: list[Plan | None]) -> Plan | None:
    """AND: ranges on one field merge into one range; parts without a plan only drop out (a superset stays a
    superset, the predicate decides)."""
    merged: dict[str, RangePlan] = {}
    others: list[Plan] = []

    def merge(plan: RangePlan) -> None:
        merged[plan.field] = merged[plan.field].narrowed(plan) if plan.field in merged else plan

    for plan in plans:
        if isinstance(plan, RangePlan):
            merge(plan)
        elif isinstance(plan, AllPlan):
            nested = _plan_all(list(plan.parts))
            if isinstance(nested, RangePlan):
                merge(nested)
            elif nested is not None:
                others.extend(nested.parts if isinstance(nested, AllPlan) else (nested,))
        elif plan is not None:
            others.append(plan)
    parts: list[Plan] = [*merged.values(), *others]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else AllPlan(tuple(parts))


def _op_plan(spec: QuerySpec, name: str, fspec: FieldSpec, op: str, value: Any) -> Plan | None:
    """A range on the field's index for one operator, when the store can index the field (top-level dates)."""
    if fspec.kind != "date" or "." in name or name in spec.path_aliases or not isinstance(value, str):
        return None
    if op == EQ:
        return RangePlan(name, value, True, value, True)
    if op in (GT, GTE):
        return RangePlan(name, lo=value, lo_inc=op == GTE)
    if op in (LT, LTE):
        return RangePlan(name, hi=value, hi_inc=op == LTE)
    return None


@dataclass
class CompiledFilter:
    predicate: Predicate | None  # None: matches everything
    key: bytes  # canonical text of the validated filter, for caches and cursors
    created_range: tuple[str | None, bool, str | None, bool] | None  # only-createdDate filters: fast path
    id_lookup: list[str] | None = None  # filter is exactly `id` $eq/$in: fetch by key instead of scanning
    # Which index slices hold every match (a superset: the predicate still decides); None means a full scan.
    plan: Plan | None = None
    # A top-level `$and` of createdDate ranges and other filters, as a keyset page of a filtered query is: the other
    # filters compiled, and the range. The store answers it as a slice of their (cached) matches in createdDate order.
    keyset: tuple[CompiledFilter, tuple[str | None, bool, str | None, bool]] | None = None


def compile_filter(spec: QuerySpec, raw: Any) -> CompiledFilter:
    if raw is None or raw == {}:
        return CompiledFilter(None, b"{}", (None, True, None, True))
    if not isinstance(raw, dict):
        raise malformed(f"filter must be a JSON object, got {type(raw).__name__}")
    bounds: dict[str, Any] = {"lo": None, "lo_inc": True, "hi": None, "hi_inc": True, "only_created": True}
    predicate, plan = _compile_node(spec, raw, bounds, top=True)
    key = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    created = (bounds["lo"], bounds["lo_inc"], bounds["hi"], bounds["hi_inc"]) if bounds["only_created"] else None
    keyset = _keyset_split(spec, raw) if created is None else None
    return CompiledFilter(predicate, key, created, _id_lookup(raw), plan, keyset)


def _keyset_split(
    spec: QuerySpec, raw: dict[str, Any]
) -> tuple[CompiledFilter, tuple[str | None, bool, str | None, bool]] | None:
    """(the other filters, the createdDate range) of `{"$and": [...]}` mixing both; None otherwise."""
    parts = raw.get("$and") if list(raw) == ["$and"] else None
    if not isinstance(parts, list):
        return None
    on_created = [isinstance(part, dict) and list(part) == ["createdDate"] for part in parts]
    ranges = [part for part, created in zip(parts, on_created, strict=True) if created]
    rest = [part for part, created in zip(parts, on_created, strict=True) if not created]
    if not ranges or not rest:
        return None
    bound = compile_filter(spec, {"$and": ranges}).created_range
    if bound is None or bound[0] is None:  # a lower bound keeps records without a createdDate out, as the scan does
        return None
    return compile_filter(spec, rest[0] if len(rest) == 1 else {"$and": rest}), bound


def _id_lookup(raw: dict[str, Any]) -> list[str] | None:
    """Ids named by a filter that is only `{"id": x}`, `{"id": {"$eq": x}}` or `{"id": {"$in": [...]}}`."""
    if list(raw) != ["id"]:
        return None
    cond = raw["id"]
    if isinstance(cond, str):
        return [cond]
    if isinstance(cond, dict) and len(cond) == 1:
        value = cond.get(EQ, cond.get(IN))
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
    return None


def _compile_node(spec: QuerySpec, node: Any, bounds: dict[str, Any], top: bool) -> tuple[Predicate, Plan | None]:
    """The node's predicate, and the index plan that bounds its matches (None: no index bounds them)."""
    if not isinstance(node, dict):
        raise malformed(f"filter node must be an object, got {node!r}")
    parts: list[Predicate] = []
    plans: list[Plan | None] = []
    for name, cond in node.items():
        if name == "$and" or name == "$or":
            if not isinstance(cond, list) or not cond:
                raise malformed(f"{name} needs a non-empty list of filters")
            if name == "$or" or not top:
                bounds["only_created"] = False
            compiled = [_compile_node(spec, c, bounds, top=top and name == "$and") for c in cond]
            subs = [pred for pred, _ in compiled]
            sub_plans = [plan for _, plan in compiled]
            parts.append(_all(subs) if name == "$and" else _any(subs))
            if name == "$and":
                plans.append(_plan_all(sub_plans))
            else:
                # A union is only bounded when every branch is: one unindexed branch can match anything.
                bounded = [plan for plan in sub_plans if plan is not None]
                plans.append(UnionPlan(tuple(bounded)) if len(bounded) == len(sub_plans) else None)
        elif name == "$not":
            bounds["only_created"] = False
            inner, _ = _compile_node(spec, cond, bounds, top=False)
            parts.append(lambda r, inner=inner: not inner(r))
        elif name.startswith("$"):
            raise malformed(f"unknown logical operator {name}")
        else:
            pred, plan = _compile_field(spec, name, cond, bounds, top)
            parts.append(pred)
            plans.append(plan)
    if not parts:
        return (lambda r: True), None
    return (parts[0] if len(parts) == 1 else _all(parts)), _plan_all(plans)


def _all(preds: list[Predicate]) -> Predicate:
    return lambda r: all(p(r) for p in preds)


def _any(preds: list[Predicate]) -> Predicate:
    return lambda r: any(p(r) for p in preds)


def _compile_field(
    spec: QuerySpec, name: str, cond: Any, bounds: dict[str, Any], top: bool
) -> tuple[Predicate, Plan | None]:
    fspec = spec.field_spec(name)
    if fspec is None:
        raise ApiError(400, spec.unknown_field_code, f"filtering on {name!r} is not supported by {spec.api}")
    path = spec.path_aliases.get(name, name)
    get = make_getter(path)
    if isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond) and set(cond) != {"$date"}:
        ops = cond
    else:
        ops = {EQ: cond}
    preds: list[Predicate] = []
    plans: list[Plan | None] = []
    for op, value in ops.items():
        canonical = STARTS if op == BEGINS else op
        if canonical not in ALL_OPERATORS:
            raise ApiError(400, "UNSUPPORTED_FILTER_OPERATOR", f"unknown operator {op} on {name!r}")
        if canonical not in fspec.ops:
            raise ApiError(
                400,
                "UNSUPPORTED_FILTER_OPERATOR",
                f"operator {op} is not supported on {name!r} by {spec.api}",
            )
        checked = _check_value(spec, name, fspec, canonical, value)
        preds.append(_op_predicate(get, canonical, checked))
        plans.append(_op_plan(spec, name, fspec, canonical, checked))
        _note_bounds(name, canonical, checked, bounds, top)
    return (preds[0] if len(preds) == 1 else _all(preds)), _plan_all(plans)


def _note_bounds(name: str, op: str, value: Any, bounds: dict[str, Any], top: bool) -> None:
    """Track a conjunction of createdDate bounds; anything else disables the index fast path."""
    if not top or name != "createdDate" or op not in (RANGE | {EQ}) or value is None:
        bounds["only_created"] = False
        return
    if op in (GT, GTE, EQ) and (bounds["lo"] is None or value > bounds["lo"] or (value == bounds["lo"] and op == GT)):
        bounds["lo"], bounds["lo_inc"] = value, op != GT
    if op in (LT, LTE, EQ) and (bounds["hi"] is None or value < bounds["hi"] or (value == bounds["hi"] and op == LT)):
        bounds["hi"], bounds["hi_inc"] = value, op != LT


# --------------------------------------------------------------------------------------------- sort


@dataclass(frozen=True)
class SortSpec:
    fields: tuple[tuple[str, bool], ...]  # (field name, descending)

    @property
    def key(self) -> bytes:
        return orjson.dumps([[f, d] for f, d in self.fields])

    @property
    def is_created_only(self) -> bool:
        return len(self.fields) == 1 and self.fields[0][0] == "createdDate"


DEFAULT_SORT = SortSpec((("createdDate", False),))


def parse_sort(spec: QuerySpec, raw: Any, default: SortSpec = DEFAULT_SORT) -> SortSpec:
    if raw is None or raw == []:
        return default
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ApiError(400, spec.sort_code, f"sort must be a list of {{fieldName, order}}, got {raw!r}")
    if len(raw) > spec.max_sort:
        raise ApiError(400, spec.sort_code, f"{spec.api} accepts at most {spec.max_sort} sort field(s)")
    fields: list[tuple[str, bool]] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("fieldName"), str):
            raise ApiError(400, spec.sort_code, f"sort item must have a fieldName, got {item!r}")
        name = item["fieldName"]
        order = item.get("order") or "ASC"
        if order not in ("ASC", "DESC"):
            raise ApiError(400, spec.sort_code, f"sort order must be ASC or DESC, got {order!r}")
        fspec = spec.field_spec(name)
        if fspec is None or not fspec.sortable:
            raise ApiError(400, spec.sort_code, f"sorting on {name!r} is not supported by {spec.api}")
        fields.append((name, order == "DESC"))
    return SortSpec(tuple(fields))


def _norm(value: Any) -> tuple[int, Any]:
    """Make values of mixed types orderable: missing first, then numbers, then text."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode())


def sort_value_fn(spec: QuerySpec, name: str) -> Callable[[Record], tuple[int, Any]]:
    get = make_getter(spec.path_aliases.get(name, name))

    def value(rec: Record) -> tuple[int, Any]:
        found = _candidates(get(rec))
        return _norm(found[0] if found else None)

    return value


def sort_ids(spec: QuerySpec, sort: SortSpec, ids: list[str], records: dict[str, Record]) -> list[str]:
    """Order ids by the sort fields; ties go by id in the direction of the first sort field."""
    first_desc = sort.fields[0][1] if sort.fields else False
    ordered = sorted(ids, reverse=first_desc)
    for name, desc in reversed(sort.fields):
        fn = sort_value_fn(spec, name)
        ordered.sort(key=lambda i, fn=fn: fn(records[i]), reverse=desc)
    return ordered


class SortPosition:
    """A point in a sorted result, comparable with records' positions: used to resume after a cursor."""

    __slots__ = ("dirs", "values")

    def __init__(self, values: tuple[Any, ...], dirs: tuple[bool, ...]) -> None:
        self.values = values
        self.dirs = dirs

    def __lt__(self, other: SortPosition) -> bool:
        for a, b, desc in zip(self.values, other.values, self.dirs, strict=True):
            if a == b:
                continue
            return a > b if desc else a < b
        return False


def position_fn(spec: QuerySpec, sort: SortSpec) -> Callable[[Record], SortPosition]:
    fns = [sort_value_fn(spec, name) for name, _ in sort.fields]
    first_desc = sort.fields[0][1] if sort.fields else False
    dirs = (*(desc for _, desc in sort.fields), first_desc)

    def position(rec: Record) -> SortPosition:
        return SortPosition((*(fn(rec) for fn in fns), rec["id"]), dirs)

    return position


def plain_position(pos: SortPosition) -> list[Any]:
    return [list(v) if isinstance(v, tuple) else v for v in pos.values]


def position_from_plain(values: Iterable[Any], dirs: tuple[bool, ...]) -> SortPosition:
    return SortPosition(tuple(tuple(v) if isinstance(v, list) else v for v in values), dirs)


# ----------------------------------------------------------------------------------------- specs


def _ops(*names: str) -> frozenset[str]:
    return frozenset(names)


_EQ3 = _ops(EQ, NE, IN)
_EQ4 = _ops(EQ, NE, IN, NIN)
_RANGE6 = _ops(EQ, NE, GT, GTE, LT, LTE)
_RANGE7 = _ops(EQ, NE, IN, GT, GTE, LT, LTE)
_RANGE8 = _ops(EQ, NE, IN, NIN, GT, GTE, LT, LTE)
_TEXT = _ops(EQ, NE, IN, EXISTS, STARTS)

CONTACTS_SPEC = QuerySpec(
    api="Contacts",
    unknown_field_code="UNSUPPORTED_FILTER_FIELD_UNKNOWN",
    sort_code="UNSUPPORTED_SORT_FIELD",
    max_sort=1,
    max_limit=1000,
    default_limit=50,
    fields={
        "id": FieldSpec(_ops(EQ, NE, IN, EXISTS)),
        "info.locale": FieldSpec(_ops(EQ, NE, IN, EXISTS)),
        "createdDate": FieldSpec(_RANGE6, "date", sortable=True),
        "info.birthdate": FieldSpec(_RANGE6, "string", sortable=True),
        "lastActivity.activityDate": FieldSpec(_RANGE6, "date", sortable=True),
        # Filterable but NOT sortable (SPEC.md §3.6).
        "updatedDate": FieldSpec(_RANGE6, "date"),
        "primaryInfo.email": FieldSpec(_TEXT, sortable=True),
        "info.name.first": FieldSpec(_TEXT, sortable=True),
        "info.name.last": FieldSpec(_TEXT, sortable=True),
        "info.company": FieldSpec(_TEXT, sortable=True),
        "info.jobTitle": FieldSpec(_TEXT, sortable=True),
        "primaryInfo.phone": FieldSpec(_TEXT),
        "info.labelKeys": FieldSpec(_ops(HAS_SOME, HAS_ALL)),
        # From the fuller sort-filter-and-search page (SPEC.md §3.6).
        "primaryEmail.subscriptionStatus": FieldSpec(_EQ4),
        "primaryEmail.deliverabilityStatus": FieldSpec(_EQ4),
        "primaryPhone.subscriptionStatus": FieldSpec(_EQ4),
        "primaryEmail.email": FieldSpec(_TEXT),
        "primaryPhone.e164Phone": FieldSpec(_TEXT),
        "primaryPhone.phone": FieldSpec(_TEXT),
        "info.emails.email": FieldSpec(_TEXT),
        "info.phones.phone": FieldSpec(_TEXT),
        "info.phones.e164Phone": FieldSpec(_TEXT),
        "info.addresses.city": FieldSpec(_TEXT),
        "info.addresses.subdivision": FieldSpec(_TEXT),
        "info.addresses.country": FieldSpec(_TEXT),
        "info.addresses.postalCode": FieldSpec(_TEXT),
        "info.addresses.streetAddress.name": FieldSpec(_TEXT),
        "info.addresses.addressLine": FieldSpec(_TEXT),
    },
    # Extended-field operators are [U] in the SPEC; this is its suggestion plus range ops.
    prefix_fields={"info.extendedFields.": FieldSpec(_ops(EQ, NE, IN, NIN, EXISTS, GT, GTE, LT, LTE, STARTS), "any")},
    path_aliases={
        "info.addresses.city": "info.addresses.items.address.city",
        "info.addresses.subdivision": "info.addresses.items.address.subdivision",
        "info.addresses.country": "info.addresses.items.address.country",
        "info.addresses.postalCode": "info.addresses.items.address.postalCode",
        "info.addresses.streetAddress.name": "info.addresses.items.address.streetAddress.name",
        "info.addresses.addressLine": "info.addresses.items.address.addressLine",
    },
)

EXTENDED_FIELDS_SPEC = QuerySpec(
    api="Extended Fields",
    unknown_field_code="UNSUPPORTED_FILTER_FIELD",
    sort_code="INVALID_SORT",
    max_sort=1,
    max_limit=1000,
    default_limit=100,
    fields={
        "key": FieldSpec(_EQ3),
        "displayName": FieldSpec(_ops(EQ, NE, IN, STARTS), sortable=True),
        "createdDate": FieldSpec(_RANGE6, "date", sortable=True),
        "updatedDate": FieldSpec(_RANGE6, "date", sortable=True),
        "namespace": FieldSpec(_ops(EQ, NE)),
        "fieldType": FieldSpec(_ops(EQ)),
        "dataType": FieldSpec(_ops(EQ, NE)),
    },
)

REVIEWS_SPEC = QuerySpec(
    api="Reviews",
    fields={
        "id": FieldSpec(_EQ3),
        "namespace": FieldSpec(_EQ3),
        "entityId": FieldSpec(_EQ3),
        "author.contactId": FieldSpec(_EQ3),
        "moderation.moderationStatus": FieldSpec(_EQ3),
        "content.rating": FieldSpec(_RANGE7, "number", sortable=True),
        "createdDate": FieldSpec(_RANGE7, "date", sortable=True),
        "helpfulness": FieldSpec(_RANGE7, "number", sortable=True),
        "relevanceScore": FieldSpec(_RANGE7, "number", sortable=True),
        "origin.type": FieldSpec(_ops(EQ, NE), sortable=True),
        "verified": FieldSpec(_ops(EQ, NE), "bool", sortable=True),
        "content.media": FieldSpec(_ops(IS_EMPTY), "any"),
    },
)

RATINGS_SPEC = QuerySpec(
    api="Ratings",
    fields={
        "id": FieldSpec(_EQ3, sortable=True),
        "group": FieldSpec(_EQ3),
        "entityId": FieldSpec(_EQ3),
        "attributeId": FieldSpec(_EQ3),
        "value": FieldSpec(_RANGE7, "number", sortable=True),
        "owner.contactId": FieldSpec(_EQ3),
        "owner.anonymousVisitorId": FieldSpec(_EQ3),
        "owner.memberId": FieldSpec(_EQ3),
        "relatedEntityIds": FieldSpec(_ops(HAS_SOME, HAS_ALL)),
        # Project additions (not in the Velo table): the seed's query filters on namespace, and
        # incremental loads need createdDate/updatedDate bounds; createdDate is the default sort anyway.
        "namespace": FieldSpec(_EQ3),
        "attributeName": FieldSpec(_EQ3),
        "createdDate": FieldSpec(_RANGE7, "date", sortable=True),
        "updatedDate": FieldSpec(_RANGE7, "date"),
    },
)

REVIEW_REQUESTS_SPEC = QuerySpec(
    api="Review Requests",
    fields={
        "id": FieldSpec(_EQ4),
        "communicationChannel": FieldSpec(_EQ4),
        "namespace": FieldSpec(_EQ4),
        "recipient.contactId": FieldSpec(_EQ4),
        "requestedBy.appId": FieldSpec(_EQ4),
        "requestedBy.identityType": FieldSpec(_EQ4),
        "requestedBy.wixUserId": FieldSpec(_EQ4),
        "items.catalogItemId": FieldSpec(_EQ4 | {HAS_SOME, HAS_ALL}),
        "items.reviewId": FieldSpec(_EQ4 | {HAS_SOME, HAS_ALL, EXISTS, IS_EMPTY}),
        "automationActivationId": FieldSpec(_EQ4 | {EXISTS}),
        "order.id": FieldSpec(_EQ4 | {EXISTS}),
        "createdDate": FieldSpec(_RANGE8, "date", sortable=True),
        "sendDate": FieldSpec(_RANGE8, "date", sortable=True),
        "status": FieldSpec(_EQ4, sortable=True),
    },
)
