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

    ``items`` are the records as dicts (REST names), or only their ``keys`` fields when the caller asked for a
    skeleton (bulk loads); ``raw`` is the response body exactly as received (for keyset pages it may also
    contain records already yielded earlier, ``items`` is authoritative).
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


def _is_last_keyset_page(page: Page[Any], offset: int, page_size: int) -> bool:
    # ``total`` counts the whole query (offset included), so nothing lies beyond a page that reaches it.
    if page.total is not None:
        return page.total <= offset + len(page.items)
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

    ``fetch(filter, offset, limit)`` must run the query sorted by ``field_name`` ascending, ties in a stable order.

    Algorithm (one request per ``page_size - 1`` new records, whatever the ties):
      1. Ask for ``field >= since`` (or everything), offset 0.
      2. After a page, ``lower`` is its last record's timestamp T and ``at_lower`` the records read at T, in the
         server's order: they are the first ``k`` records of ``field >= T``.
      3. Ask for ``field >= T`` at offset ``k - 1``: the page starts with the last record already read at T (the
         anchor) and goes on exactly after it, so a tie group cut by the page boundary, or one bulk import of
         thousands of contacts in one millisecond, costs no request more than distinct timestamps would. If the
         first record is the anchor, nothing moved ahead of it and the rest of the page is new.
      4. If it is not (a record was inserted at T or deleted ahead of the anchor during the pull, or the server
         changed its tie order), the group at T is re-read with ``field == T`` and offset paging from 0,
         de-duplicated by id (repeated while its size keeps changing), and the pull goes on with ``field > T``.
      5. Stop at the page that reaches ``total`` (or a short page when the server cannot count).

    Offsets only count records at one timestamp, never the growing whole set, so records inserted during the pull
    (which get newer timestamps) cannot shift a page. ``since`` is inclusive: a resumed pull re-reads records at
    exactly the watermark unless their ids are passed in ``exclude_ids``. Timestamps are compared at the
    millisecond precision Wix uses. A limit the anchor cannot see: a record inserted ahead of it *and* another
    deleted ahead of it between two requests keep the anchor in place, and the inserted one is only picked up by
    the next incremental pull's look-back (as with any count-based check).
    """
    lower: datetime | None = since
    strict = False  # after a drained tie group: the next query is ``> lower``, with nothing read there yet
    at_lower: list[str] = []  # ids read at ``lower``, in the server's order (the first k of ``>= lower``)
    skip: set[str] = set(exclude_ids)  # ids not to yield again at ``lower``
    while True:
        bound = None
        if lower is not None:
            bound = Filter.gt(field_name, lower) if strict else Filter.gte(field_name, lower)
        page: Page[ModelT] | None = None
        offset = len(at_lower) - 1 if at_lower else 0
        if not at_lower or page_size > 1:  # a one-record page has no room for the anchor: drain instead
            page = fetch(Filter.all_of(base_filter, bound), offset, page_size)
        if at_lower and (page is None or not page.items or page.items[0].get("id") != at_lower[-1]):
            # Step 4: the records at ``lower`` moved. Re-read them all, then go on past them.
            assert lower is not None
            skip.update(at_lower)
            yield from _drain_tie_group(fetch, lower, skip, page_size, base_filter, field_name, max_drain_rounds)
            strict, at_lower, skip = True, [], set()
            continue
        assert page is not None
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
        new = items[1:] if at_lower else items  # the anchor was yielded with the previous page
        fresh = [item for item in new if item.get("id") not in skip] if skip else new
        if fresh:
            yield replace(page, items=fresh, offset=offset)
        if _is_last_keyset_page(page, offset, page_size):
            return
        tail: list[str] = []
        for item in reversed(items):
            if _parse_ts(item.get(field_name)) != last_ts:
                break
            tail.append(item["id"])
        tail.reverse()
        if at_lower and last_ts == lower and len(tail) == len(items):
            # The whole page is still at ``lower`` (a big tie group): its records follow the ones read before.
            at_lower.extend(tail[1:])
            skip.update(tail)
        else:
            # Step 2: a new ``lower``. The ids excluded at ``since`` only matter while ``lower`` is ``since``.
            keep = skip if not strict and last_ts == lower else set()
            lower, strict, at_lower, skip = last_ts, False, tail, keep | set(tail)


def _drain_tie_group(
    fetch: FetchFiltered[ModelT],
    ts: datetime,
    seen: set[str],
    page_size: int,
    base_filter: Filter | None,
    field_name: str,
    max_rounds: int,
) -> Iterator[Page[ModelT]]:
    """Every record at exactly ``ts`` not in ``seen``, by ``field == ts`` offset paging from 0; repeated while the
    group's size changes under us, so a record shifted across a page boundary by a concurrent insert or delete is
    still read."""
    tie_filter = Filter.all_of(base_filter, Filter.eq(field_name, ts))
    for round_no in range(1, max_rounds + 1):
        offset = 0
        first_total: int | None = None
        last_total: int | None = None
        while True:
            page = fetch(tie_filter, offset, page_size)
            if offset == 0:
                first_total = page.total
            last_total = page.total
            fresh = [item for item in page.items if item.get("id") not in seen]
            seen.update(item["id"] for item in fresh if "id" in item)
            if fresh:
                yield replace(page, items=fresh, offset=offset)
            offset += len(page.items)
            if _is_last_offset_page(page, offset, page_size):
                break
        if first_total == last_total:
            return
        log.info(
            "tie group at %s changed size during the drain (%s -> %s); re-reading it (round %d)",
            ts.isoformat(),
            first_total,
            last_total,
            round_no + 1,
        )
    log.warning("tie group at %s kept changing after %d drains; moving on", ts.isoformat(), max_rounds)
