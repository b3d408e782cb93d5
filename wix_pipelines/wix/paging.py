"""Pages and pagers (SPEC.md §2.7).

A :class:`Page` keeps the items as the plain dicts orjson produced plus the raw response bytes: bulk loaders
land those straight into DuckDB, and building a pydantic model per record would cost more than the HTTP
itself. ``Page.models()`` is the typed view for callers that want it.

Three ways through a collection:

* :func:`iter_offset_pages` — ``paging: {limit, offset}`` (contacts, extended fields), stopping on
  ``pagingMetadata.total`` (or a short page when the server could not count).
* :func:`iter_cursor_pages` — ``cursorPaging`` (reviews, ratings, review requests). The first request carries
  filter/sort/limit; follow-ups carry only ``{"query": {"cursorPaging": {"cursor", "limit"}}}`` because the
  cursor encodes the rest (the official SDK does exactly this; Wix rejects a cursor combined with a filter).
* :func:`iter_keyset_pages` — createdDate keyset paging for contacts (see its docstring): boundary-safe under
  ties and inserts, and no deep offsets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Generic

import orjson

from .errors import WixError
from .models import ModelT
from .query import Filter
from .transport import ApiResponse

__all__ = ["Page", "iter_cursor_pages", "iter_keyset_pages", "iter_offset_pages", "page_from_response"]

log = logging.getLogger("wix_pipelines.wix")


@dataclass(slots=True)
class Page(Generic[ModelT]):
    """One page of results.

    ``items`` are the records as dicts (REST names); ``raw`` is the response body exactly as received (for
    keyset pages it may also contain records already yielded earlier, ``items`` is authoritative).
    ``total`` is ``pagingMetadata.total`` (offset paging, None when the server could not count);
    ``next_cursor`` is set when another cursor page exists.
    """

    items: list[dict[str, Any]]
    raw: bytes
    request_id: str | None
    model: type[ModelT] | None = None
    offset: int | None = None
    total: int | None = None
    next_cursor: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.items)

    def models(self) -> list[ModelT]:
        """The items as pydantic models (unknown fields kept)."""
        if self.model is None:
            raise TypeError("this page has no model type")
        validate = self.model.model_validate
        return [validate(item) for item in self.items]

    def ids(self) -> list[str]:
        return [item["id"] for item in self.items if "id" in item]

    def ndjson(self) -> bytes:
        """The items as newline-delimited JSON (DuckDB ``read_json`` reads it directly)."""
        return b"\n".join(orjson.dumps(item) for item in self.items)


def _paging_metadata(data: dict[str, Any]) -> dict[str, Any]:
    # Contacts/review requests answer ``pagingMetadata``; reviews, ratings and extended-field List
    # ``metadata``.
    meta = data.get("pagingMetadata")
    if not isinstance(meta, dict):
        meta = data.get("metadata")
    return meta if isinstance(meta, dict) else {}


def page_from_response(response: ApiResponse, items_key: str, model: type[ModelT] | None = None) -> Page[ModelT]:
    data = response.data
    items = data.get(items_key) or []
    if not isinstance(items, list):
        raise WixError(f"expected a list under {items_key!r} in the response (request id {response.request_id})")
    meta = _paging_metadata(data)
    total = meta.get("total")
    if meta.get("tooManyToCount"):
        total = None  # documented as "could not be computed": not a bound we may stop on
    cursors = meta.get("cursors") if isinstance(meta.get("cursors"), dict) else {}
    next_cursor = cursors.get("next") or None
    if meta.get("hasNext") is False:
        next_cursor = None
    return Page(
        items=items,
        raw=response.raw,
        request_id=response.request_id,
        model=model,
        offset=meta.get("offset"),
        total=int(total) if isinstance(total, (int, float, str)) and str(total).isdigit() else None,
        next_cursor=next_cursor,
        metadata=meta,
    )


def _is_last_offset_page(page: Page[Any], offset_after: int, limit: int) -> bool:
    if not page.items:
        return True
    if page.total is not None:
        return offset_after >= page.total
    # Without a total, a short page is the end. (A server that caps the limit below ours and cannot count
    # would end us early; Wix always counts contacts.)
    return len(page.items) < limit


def iter_offset_pages(
    fetch: Callable[[int, int], Page[ModelT]], *, limit: int, start_offset: int = 0
) -> Iterator[Page[ModelT]]:
    """Yield non-empty pages from ``fetch(offset, limit)`` until ``total`` (or a short page) says we are
    done."""
    offset = start_offset
    while True:
        page = fetch(offset, limit)
        offset += len(page.items)
        if page.items:
            yield page
        if _is_last_offset_page(page, offset, limit):
            return


def iter_cursor_pages(
    send: Callable[[dict[str, Any]], Page[ModelT]],
    query: dict[str, Any],
    *,
    limit: int,
    extra_body: dict[str, Any] | None = None,
) -> Iterator[Page[ModelT]]:
    """Yield non-empty pages of a cursor-paged Query endpoint.

    ``query`` is the wire ``query`` object without paging. ``extra_body`` holds top-level request flags that
    are not part of the query (``returnPrivateReviews``) and are repeated on every request.
    """
    extra = extra_body or {}
    body: dict[str, Any] = {"query": {**query, "cursorPaging": {"limit": limit}}, **extra}
    used: set[str] = set()
    while True:
        page = send(body)
        if page.items:
            yield page
        cursor = page.next_cursor
        if not cursor:
            return
        if cursor in used:
            # A server handing back a cursor we already followed would loop forever.
            raise WixError(f"cursor paging did not advance (request id {page.request_id}); stopping")
        used.add(cursor)
        body = {"query": {"cursorPaging": {"cursor": cursor, "limit": limit}}, **extra}


# --- createdDate keyset paging ------------------------------------------------------------------------------


def _parse_ts(value: Any) -> datetime:
    if not isinstance(value, str):
        raise WixError(f"record without a timestamp string in the keyset field: {value!r}")
    # fromisoformat (3.11) takes "Z" and any fraction length; Wix sends milliseconds.
    ts = datetime.fromisoformat(value)
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _is_last_keyset_page(page: Page[Any], page_size: int) -> bool:
    # Keyset queries always ask for offset 0, so total <= len(items) means nothing lies beyond this page.
    if page.total is not None:
        return page.total <= len(page.items)
    return len(page.items) < page_size


FetchFiltered = Callable[[Filter | None, int, int], Page[ModelT]]


def iter_keyset_pages(
    fetch: FetchFiltered[ModelT],
    *,
    since: datetime | None,
    page_size: int,
    base_filter: Filter | None = None,
    field_name: str = "createdDate",
    exclude_ids: Collection[str] = (),
    max_drain_rounds: int = 3,
) -> Iterator[Page[ModelT]]:
    """Pages ascending by ``field_name`` (createdDate) from ``since`` (inclusive), each record exactly once.

    ``fetch(filter, offset, limit)`` must run the query sorted by ``field_name`` ascending.

    Algorithm:
      1. Ask for ``field >= lower`` (offset 0). Skip ids already yielded at exactly ``lower``. Advance
         ``lower`` to the last record's timestamp and remember the ids carrying it, so a tie group cut by
         the page boundary is picked up by the next ``>=`` query without duplicates.
      2. If a full page holds only one timestamp T (bulk imports put thousands of contacts in one
         millisecond), ``>=`` can make no progress: drain the tie group with ``field == T`` and offset
         paging (its own small, stable set), de-duplicating by id, then continue with ``field > T``.
      3. Stop at the first page that is the last one (``total`` or a short page).

    Offsets are only used inside one tie group, never over the growing whole set, so records inserted during
    the pull (which get newer timestamps) cannot shift a page boundary. If a tie group's total changes while
    it is drained (deletes shift offsets), the drain is repeated from offset 0 (de-duplicated) so nothing is
    skipped. ``since`` is inclusive: a resumed pull re-reads records at exactly the watermark unless their ids
    are passed in ``exclude_ids``. Timestamps are compared at the millisecond precision Wix uses.
    """
    lower: datetime | None = since
    strict = False  # True after a drained tie group: the next query is ``> lower``
    ids_at_lower: set[str] = set(exclude_ids)
    while True:
        bound = None
        if lower is not None:
            bound = Filter.gt(field_name, lower) if strict else Filter.gte(field_name, lower)
        page = fetch(Filter.all_of(base_filter, bound), 0, page_size)
        items = page.items
        if not items:
            return
        first_ts = _parse_ts(items[0].get(field_name))
        last_ts = _parse_ts(items[-1].get(field_name))
        if lower is not None and first_ts < lower.replace(microsecond=lower.microsecond // 1000 * 1000):
            raise WixError(
                f"server returned {field_name} {items[0].get(field_name)} below the requested lower bound; "
                f"the query is not sorted ascending by {field_name} (request id {page.request_id})"
            )
        fresh = [item for item in items if item.get("id") not in ids_at_lower] if ids_at_lower else items
        if fresh:
            yield replace(page, items=fresh)
        if _is_last_keyset_page(page, page_size):
            return
        if first_ts == last_ts:
            # Step 2: a full page of one timestamp. Everything we yielded at T is in ``seen``.
            seen = ids_at_lower if lower == first_ts else set()
            seen.update(item["id"] for item in items if "id" in item)
            yield from _drain_tie_group(fetch, first_ts, seen, page_size, base_filter, field_name, max_drain_rounds)
            lower, strict, ids_at_lower = first_ts, True, set()
            continue
        # Step 1: advance. The last timestamp can't equal the old lower bound here (first < last), so the ids
        # remembered are exactly this page's tail at ``last_ts``.
        tail: set[str] = set()
        for item in reversed(items):
            if _parse_ts(item.get(field_name)) != last_ts:
                break
            tail.add(item["id"])
        lower, strict, ids_at_lower = last_ts, False, tail


def _drain_tie_group(
    fetch: FetchFiltered[ModelT],
    ts: datetime,
    seen: set[str],
    page_size: int,
    base_filter: Filter | None,
    field_name: str,
    max_rounds: int,
) -> Iterator[Page[ModelT]]:
    tie_filter = Filter.all_of(base_filter, Filter.eq(field_name, ts))
    for round_no in range(1, max_rounds + 1):
        # The first round starts after the records of the group already read: the server orders ties the same
        # way in both queries, so re-reading them from offset 0 would cost a request per group for nothing.
        # Should that not hold, the count check below sees a record missing and re-reads from 0.
        offset = len(seen) if round_no == 1 else 0
        start = offset
        first_total: int | None = None
        last_total: int | None = None
        while True:
            page = fetch(tie_filter, offset, page_size)
            if offset == start:
                first_total = page.total
            last_total = page.total
            fresh = [item for item in page.items if item.get("id") not in seen]
            seen.update(item["id"] for item in fresh if "id" in item)
            if fresh:
                yield replace(page, items=fresh, offset=offset)
            offset += len(page.items)
            if _is_last_offset_page(page, offset, page_size):
                break
        if first_total == last_total and (last_total is None or len(seen) >= last_total):
            return
        log.info(
            "tie group at %s changed size or order during the drain (%s -> %s); re-reading it (round %d)",
            ts.isoformat(),
            first_total,
            last_total,
            round_no + 1,
        )
    log.warning("tie group at %s kept changing after %d drains; moving on", ts.isoformat(), max_rounds)
