"""The four pulled streams: which API pages each one reads for a full, incremental or date-range pull.

Contacts use offset paging (a createdDate keyset anchored on the last record read, in the client); reviews, ratings and
review requests use cursor paging sorted by createdDate. Each stream answers the same three questions, so the
pull loop in `pull.py` is one piece of code for all four.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from wix_pipelines.wix import WixClient
from wix_pipelines.wix.paging import Page
from wix_pipelines.wix.query import Filter, Query, Sort


@dataclass(frozen=True)
class PageWindow:
    """Which records a pull asks for. All bounds are on createdDate except `updated_since`."""

    created_since: datetime | None = None  # inclusive
    created_before: datetime | None = None  # exclusive
    updated_since: datetime | None = None  # OR-ed with created_since: records changed since then
    ids_only: bool = False  # a reconciliation only needs ids


def _created_filter(window: PageWindow) -> Filter | None:
    created: list[Filter | None] = []
    if window.created_since is not None:
        created.append(Filter.gte("createdDate", window.created_since))
    if window.created_before is not None:
        created.append(Filter.lt("createdDate", window.created_before))
    created_filter = Filter.all_of(*created) if created else None
    if window.updated_since is None:
        return created_filter
    changed = Filter.gte("updatedDate", window.updated_since)
    return changed if created_filter is None else created_filter | changed


# What the pull reads of each record in Python: the id (deletion reconciliation) and the keyset field. The rest
# stays in `Page.raw`, which DuckDB parses; building dicts of whole pages cost more CPU than the HTTP.
PAGE_KEYS = ("id", "createdDate")


def _contact_pages(client: WixClient, window: PageWindow) -> Iterator[Page]:
    # The window's filter is the keyset's base filter: the client adds `createdDate >= last seen` to it page by
    # page, so a contact updated during the pull cannot move across our position.
    fields = ("id", "createdDate") if window.ids_only else ()
    return client.contacts.iter_created_since(None, filter=_created_filter(window), fields=fields, keys=PAGE_KEYS)


def _cursor_query(window: PageWindow) -> Query:
    return Query(filter=_created_filter(window), sort=(Sort("createdDate", "ASC"),))


def _review_pages(client: WixClient, window: PageWindow) -> Iterator[Page]:
    return client.reviews.query_pages(_cursor_query(window), return_private=True, keys=PAGE_KEYS)


def _rating_pages(client: WixClient, window: PageWindow) -> Iterator[Page]:
    return client.ratings.query_pages(_cursor_query(window), keys=PAGE_KEYS)


def _review_request_pages(client: WixClient, window: PageWindow) -> Iterator[Page]:
    return client.review_requests.query_pages(_cursor_query(window), keys=PAGE_KEYS)


@dataclass(frozen=True)
class Stream:
    name: str  # the asset, the warehouse table and the watermark key
    description: str
    pages: Callable[[WixClient, PageWindow], Iterator[Page]]
    # Whether the API documents an updatedDate filter (SPEC.md: contacts only); where it does, incremental pulls
    # also catch updates, elsewhere the reconciliation pass (and webhooks) do.
    filters_updated_date: bool


STREAMS: dict[str, Stream] = {
    stream.name: stream
    for stream in (
        Stream("contacts", "Site contacts (CRM), one row per contact id.", _contact_pages, True),
        Stream("reviews", "Reviews of the site's products, every moderation status.", _review_pages, False),
        Stream("ratings", "Attribute ratings (one per owner, attribute and entity).", _rating_pages, False),
        Stream(
            "review_requests",
            "Requests sent to customers to review their order.",
            _review_request_pages,
            False,
        ),
    )
}
