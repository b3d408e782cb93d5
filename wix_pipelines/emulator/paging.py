"""Offset and cursor paging (SPEC.md §2.7), producing page bodies by joining cached record bytes."""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import orjson

from wix_pipelines.emulator.errors import ApiError
from wix_pipelines.emulator.query import (
    QuerySpec,
    SortSpec,
    compile_filter,
    parse_sort,
    plain_position,
    position_fn,
    position_from_plain,
)
from wix_pipelines.emulator.store import Collection, Record

# Cursors are signed so a corrupted or hand-made one is refused instead of silently paging wrong; the key is
# fixed so cursors survive an emulator restart (they carry the query and position, not server state).
_CURSOR_KEY = b"wix-emulator-cursor-v1"


def envelope(items_key: str, parts: list[bytes], metadata_key: str, metadata: bytes) -> bytes:
    """`{"<items>":[...],"<metadata>":{...}}` in a single join: a 1000-contact page is ~1.7 MB, and every
    intermediate `bytes` concatenation would copy all of it again."""
    seq: list[bytes] = [b","] * (2 * len(parts) - 1) if parts else []
    seq[0::2] = parts
    head = b'{"' + items_key.encode() + b'":['
    tail = b'],"' + metadata_key.encode() + b'":' + metadata + b"}"
    return b"".join([head, *seq, tail])


def parse_limit(spec: QuerySpec, raw: Any) -> int:
    if raw is None or raw == "" or raw == 0:
        return spec.default_limit
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise ApiError(400, "ILLEGAL_LIMIT", f"limit must be an integer, got {raw!r}") from None
    if limit < 0 or limit > spec.max_limit:
        raise ApiError(400, "ILLEGAL_LIMIT", f"limit must be between 1 and {spec.max_limit}, got {limit}")
    return limit or spec.default_limit


def parse_offset(raw: Any) -> int:
    if raw is None or raw == "":
        return 0
    try:
        offset = int(raw)
    except (TypeError, ValueError):
        raise ApiError(400, "ILLEGAL_OFFSET", f"offset must be an integer, got {raw!r}") from None
    if offset < 0:
        raise ApiError(400, "ILLEGAL_OFFSET", f"offset must not be negative, got {offset}")
    return offset


def offset_page(
    collection: Collection,
    spec: QuerySpec,
    raw_filter: Any,
    raw_sort: Any,
    raw_limit: Any,
    raw_offset: Any,
    items_key: str,
    metadata_key: str = "pagingMetadata",
    serialize: Callable[[str], bytes] | None = None,
) -> bytes:
    flt = compile_filter(spec, raw_filter)
    sort = parse_sort(spec, raw_sort)
    limit = parse_limit(spec, raw_limit)
    offset = parse_offset(raw_offset)
    ids = collection.matching_ids(spec, flt, sort)
    page = ids[offset : offset + limit]
    dump = serialize or collection.json
    meta = orjson.dumps({"count": len(page), "offset": offset, "total": len(ids), "tooManyToCount": False})
    return envelope(items_key, [dump(i) for i in page], metadata_key, meta)


def _sign(payload: bytes) -> str:
    mac = hmac.new(_CURSOR_KEY, payload, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(mac + payload).decode().rstrip("=")


def _unsign(token: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        mac, payload = raw[:12], raw[12:]
        if not hmac.compare_digest(mac, hmac.new(_CURSOR_KEY, payload, hashlib.sha256).digest()[:12]):
            raise ValueError("bad signature")
        data = orjson.loads(payload)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return data
    except (ValueError, orjson.JSONDecodeError):
        raise ApiError(400, "INVALID_CURSOR", f"cursor {token[:40]!r}… is not one this server issued") from None


def cursor_page(
    collection: Collection,
    spec: QuerySpec,
    query: dict[str, Any],
    items_key: str,
    metadata_key: str,
    *,
    flags: dict[str, Any] | None = None,
    extra_for: Callable[[dict[str, Any]], tuple[Callable[[Record], bool] | None, str]] | None = None,
    has_next_field: bool = False,
) -> bytes:
    """One page of a cursor query.

    The first request carries filter/sort; follow-ups carry only `cursorPaging.cursor`, which encodes the
    original filter, sort, server-side flags (e.g. returnPrivateReviews) and the sort position of the last
    record served — keyset paging, so inserts and deletes between pages neither skip nor repeat records.
    """
    paging = query.get("cursorPaging") or {}
    if not isinstance(paging, dict):
        raise ApiError(400, "INVALID_CURSOR_PAGING", "cursorPaging must be an object")
    limit = parse_limit(spec, paging.get("limit"))
    token = paging.get("cursor")
    after: list[Any] | None = None
    if token:
        if query.get("filter") or query.get("sort"):
            raise ApiError(
                400,
                "CURSOR_WITH_FILTER",
                "a cursor request must not carry filter or sort; they come from the cursor",
            )
        state = _unsign(str(token))
        raw_filter, raw_sort, flags, after = (
            state.get("f"),
            state.get("s"),
            state.get("x") or {},
            state.get("a"),
        )
    else:
        raw_filter, raw_sort, flags = query.get("filter"), query.get("sort"), flags or {}
    flt = compile_filter(spec, raw_filter)
    sort: SortSpec = parse_sort(spec, raw_sort)
    extra, extra_key = extra_for(flags) if extra_for else (None, "")
    ids = collection.matching_ids(spec, flt, sort, extra, extra_key)
    pos = position_fn(spec, sort)
    records = collection.records
    start = 0
    if after is not None:
        dirs = (*(d for _, d in sort.fields), sort.fields[0][1] if sort.fields else False)
        start = bisect.bisect_right(ids, position_from_plain(after, dirs), key=lambda i: pos(records[i]))
    page = ids[start : start + limit]
    next_cursor: str | None = None
    if start + limit < len(ids) and page:
        payload = {
            "f": raw_filter,
            "s": [{"fieldName": f, "order": "DESC" if d else "ASC"} for f, d in sort.fields],
            "x": flags,
            "a": plain_position(pos(records[page[-1]])),
        }
        next_cursor = _sign(orjson.dumps(payload))
    meta: dict[str, Any] = {"count": len(page), "cursors": {"next": next_cursor, "prev": None}}
    if has_next_field:
        meta["hasNext"] = next_cursor is not None
    json = collection.json
    return envelope(items_key, [json(i) for i in page], metadata_key, orjson.dumps(meta))
