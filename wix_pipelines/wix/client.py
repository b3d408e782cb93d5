"""The typed Wix REST client: ``WixClient`` and its API groups (SPEC.md §1, §3-§7).

Single-record calls return pydantic models; collection calls return iterators of :class:`Page` (plain dicts
plus raw bytes, with ``.models()`` for a typed view) so bulk loads stay cheap.

    with WixClient.from_api_key(api_key, site_id=site_id) as wix:
        for page in wix.contacts.iter_created_since(watermark):
            land(page.items)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx
import orjson
from pydantic import SecretStr

from . import paths
from .auth import ApiKeyAuth, OAuthAppAuth
from .errors import WixError, WixNotFoundError
from .models import (
    BulkResult,
    Contact,
    ContactInfo,
    ExtendedField,
    ModelT,
    Rating,
    Review,
    ReviewRequest,
    WixModel,
)
from .paging import Page, iter_cursor_pages, iter_keyset_pages, iter_offset_pages, page_from_response
from .query import Filter, Query, Sort, to_wire_value
from .ratelimit import RateLimiter
from .skeleton import decode_skeleton
from .transport import DEFAULT_TIMEOUT, ApiResponse, RequestStats, RetryPolicy, Transport

__all__ = [
    "DEFAULT_BASE_URL",
    "ContactsApi",
    "ExtendedFieldsApi",
    "RatingsApi",
    "ReviewRequestsApi",
    "ReviewsApi",
    "WixClient",
]

DEFAULT_BASE_URL = "https://www.wixapis.com"
CONTACTS_MAX_PAGE = 1000  # SPEC.md §3.5/§3.6
CURSOR_MAX_PAGE = 100  # reviews, ratings, review requests (SPEC.md §5.2, §6, §7)

ModerationStatus = Literal["APPROVED", "REJECTED"]


def _id(value: str) -> str:
    """A path segment: ids are GUIDs, but never let a stray '/' or '?' change the route."""
    return quote(value, safe="")


def _wire(value: WixModel | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(value, WixModel):
        return value.to_wire()
    return to_wire_value(dict(value))


def _decoder(items_key: str, keys: Sequence[str]) -> Callable[[bytes], Any]:
    """The body decoder of a collection query: the whole body, or with ``keys`` only those record fields."""
    if not keys:
        return orjson.loads
    return functools.partial(decode_skeleton, items_key=items_key, fields=tuple(keys))


def _model(response: ApiResponse, key: str, model: type[ModelT]) -> ModelT:
    payload = response.data.get(key)
    if not isinstance(payload, dict):
        raise WixError(f"expected {key!r} in the response (request id {response.request_id})")
    return model.model_validate(payload)


def _field_mask(field_mask: Sequence[str] | str | None) -> str | None:
    # The SDK sends a field mask as one comma-separated string (SPEC.md §2.1).
    if field_mask is None:
        return None
    return field_mask if isinstance(field_mask, str) else ",".join(field_mask)


def _check_page_size(page_size: int, maximum: int) -> int:
    if not 1 <= page_size <= maximum:
        raise ValueError(f"page_size must be between 1 and {maximum}, got {page_size}")
    return page_size


class _Api:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def _cursor_pages(
        self,
        path: str,
        operation: str,
        items_key: str,
        model: type[ModelT],
        query: Query | None,
        *,
        page_size: int,
        keys: Sequence[str],
        extra_body: dict[str, Any] | None = None,
    ) -> Iterator[Page[ModelT]]:
        """All pages of a cursor-paged Query endpoint; ``keys``: decode only these record fields into
        ``Page.items`` (bulk loads, which land ``Page.raw``), all of them by default."""
        decode = _decoder(items_key, keys)

        def send(body: dict[str, Any]) -> Page[ModelT]:
            response = self._t.request("POST", path, json=body, operation=operation, idempotent=True, decode=decode)
            return page_from_response(response, items_key, model)

        return iter_cursor_pages(
            send,
            (query or Query()).to_wire(),
            limit=_check_page_size(page_size, CURSOR_MAX_PAGE),
            extra_body=extra_body,
        )


class ContactsApi(_Api):
    """Contacts v4 (SPEC.md §3)."""

    def create(self, info: ContactInfo | Mapping[str, Any], *, allow_duplicates: bool = False) -> Contact:
        """Create a contact. Raises ``WixConflictError`` (409 DUPLICATE_CONTACT_EXISTS, ``duplicate_id`` set)
        when its email (or phone) is taken and ``allow_duplicates`` is False."""
        info_wire = _wire(info)
        # A replay of a create the server rejects as duplicate cannot double the contact, so ambiguous
        # failures may be retried; without an email/phone (or with allowDuplicates) nothing stops a second
        # copy.
        has_key = bool((info_wire.get("emails") or {}).get("items") or (info_wire.get("phones") or {}).get("items"))
        response = self._t.request(
            "POST",
            paths.CONTACTS,
            json={"info": info_wire, "allowDuplicates": allow_duplicates},
            operation="contacts.create",
            idempotent=has_key and not allow_duplicates,
        )
        return _model(response, "contact", Contact)

    def get(self, contact_id: str, *, fields: Sequence[str] = (), fieldsets: Sequence[str] = ("FULL",)) -> Contact:
        params: dict[str, Any] = {}
        if fields:
            params["fields"] = list(fields)
        if fieldsets:
            params["fieldsets"] = list(fieldsets)
        response = self._t.request(
            "GET", f"{paths.CONTACTS}/{_id(contact_id)}", params=params, operation="contacts.get"
        )
        return _model(response, "contact", Contact)

    def update(
        self,
        contact_id: str,
        revision: int,
        info: ContactInfo | Mapping[str, Any],
        *,
        field_mask: Sequence[str] | str | None = None,
        allow_duplicates: bool = False,
    ) -> Contact:
        """Patch ``info``; ``revision`` must be current or ``WixConflictError`` (``is_stale_revision``) is
        raised."""
        body: dict[str, Any] = {
            "contactId": contact_id,
            "revision": revision,
            "info": _wire(info),
            "allowDuplicates": allow_duplicates,
        }
        mask = _field_mask(field_mask)
        if mask:
            body["fieldMask"] = mask
        response = self._t.request(
            "PATCH", f"{paths.CONTACTS}/{_id(contact_id)}", json=body, operation="contacts.update"
        )
        return _model(response, "contact", Contact)

    def delete(self, contact_id: str) -> None:
        try:
            self._t.request("DELETE", f"{paths.CONTACTS}/{_id(contact_id)}", operation="contacts.delete")
        except WixNotFoundError as exc:
            # A 404 after a retry means our first attempt deleted it and its answer was lost.
            if exc.attempts <= 1:
                raise

    def merge(self, target_contact_id: str, target_revision: int, source_contact_ids: Sequence[str]) -> Contact:
        response = self._t.request(
            "POST",
            f"{paths.CONTACTS}/{_id(target_contact_id)}/merge",
            json={
                "targetContactId": target_contact_id,
                "targetContactRevision": target_revision,
                "sourceContactIds": list(source_contact_ids),
            },
            operation="contacts.merge",
            idempotent=False,
        )
        return _model(response, "contact", Contact)

    def label(self, contact_id: str, label_keys: Sequence[str]) -> Contact:
        response = self._t.request(
            "POST",
            f"{paths.CONTACTS}/{_id(contact_id)}/labels",
            json={"contactId": contact_id, "labelKeys": list(label_keys)},
            operation="contacts.label",
            idempotent=True,  # adding labels is a set union: a replay changes nothing
        )
        return _model(response, "contact", Contact)

    def unlabel(self, contact_id: str, label_keys: Sequence[str]) -> Contact:
        response = self._t.request(
            "DELETE",
            f"{paths.CONTACTS}/{_id(contact_id)}/labels",
            params={"labelKeys": list(label_keys)},
            operation="contacts.unlabel",
        )
        return _model(response, "contact", Contact)

    # -- collections -----------------------------------------------------------------------------------------

    def query_page(
        self, query: Query | None = None, *, limit: int = 50, offset: int = 0, keys: Sequence[str] = ()
    ) -> Page[Contact]:
        """One page of Query Contacts (``POST /contacts/v4/contacts/query``).

        ``keys``: decode only these fields of each record into ``Page.items`` (bulk loads, which land
        ``Page.raw``); the default decodes everything.
        """
        wire = (query or Query()).to_wire()
        wire["paging"] = {"limit": _check_page_size(limit, CONTACTS_MAX_PAGE), "offset": offset}
        response = self._t.request(
            "POST",
            paths.CONTACTS_QUERY,
            json={"query": wire},
            operation="contacts.query",
            idempotent=True,
            decode=_decoder("contacts", keys),
        )
        return page_from_response(response, "contacts", Contact)

    def query_pages(
        self, query: Query | None = None, *, page_size: int = CONTACTS_MAX_PAGE, start_offset: int = 0
    ) -> Iterator[Page[Contact]]:
        """All pages of a query by offset. For full or incremental loads prefer :meth:`iter_created_since`,
        which does not page by deep offsets over a set that grows while you read it."""
        return iter_offset_pages(
            lambda offset, limit: self.query_page(query, limit=limit, offset=offset),
            limit=_check_page_size(page_size, CONTACTS_MAX_PAGE),
            start_offset=start_offset,
        )

    def list_page(
        self,
        *,
        sort: Sort | None = None,
        limit: int = 50,
        offset: int = 0,
        fields: Sequence[str] = (),
        fieldsets: Sequence[str] = (),
    ) -> Page[Contact]:
        """One page of List Contacts (``GET /contacts/v4/contacts``)."""
        params: dict[str, Any] = {
            "paging.limit": _check_page_size(limit, CONTACTS_MAX_PAGE),
            "paging.offset": offset,
        }
        if sort is not None:
            params["sort.fieldName"] = sort.field_name
            params["sort.order"] = sort.order
        if fields:
            params["fields"] = list(fields)
        if fieldsets:
            params["fieldsets"] = list(fieldsets)
        response = self._t.request("GET", paths.CONTACTS, params=params, operation="contacts.list")
        return page_from_response(response, "contacts", Contact)

    def list_pages(
        self,
        *,
        sort: Sort | None = None,
        page_size: int = CONTACTS_MAX_PAGE,
        fields: Sequence[str] = (),
        fieldsets: Sequence[str] = (),
    ) -> Iterator[Page[Contact]]:
        return iter_offset_pages(
            lambda offset, limit: self.list_page(
                sort=sort, limit=limit, offset=offset, fields=fields, fieldsets=fieldsets
            ),
            limit=_check_page_size(page_size, CONTACTS_MAX_PAGE),
        )

    def iter_created_since(
        self,
        since: datetime | None = None,
        *,
        page_size: int = CONTACTS_MAX_PAGE,
        filter: Filter | None = None,
        fields: Sequence[str] = (),
        fieldsets: Sequence[str] = (),
        exclude_ids: Collection[str] = (),
        keys: Sequence[str] = (),
    ) -> Iterator[Page[Contact]]:
        """Contacts with ``createdDate >= since`` (all when None), ascending by createdDate, each exactly
        once.

        Boundary-safe keyset paging, anchored on the last record read at the boundary timestamp (see
        :func:`~wix_pipelines.wix.paging.iter_keyset_pages`). ``since`` is inclusive, so a resumed load
        re-reads the watermark's millisecond: upsert, or pass the ids already loaded at that millisecond as
        ``exclude_ids``. The next watermark is the largest ``createdDate`` seen. ``keys`` as in :meth:`query_page`
        (id and createdDate are always among them: the keyset reads them).
        """
        size = _check_page_size(page_size, CONTACTS_MAX_PAGE)
        if keys:
            keys = [*keys, *(k for k in ("id", "createdDate") if k not in keys)]
        if fields:
            # The keyset needs every record's id and createdDate, whatever projection the caller asked for.
            fields = [*fields, *(f for f in ("id", "createdDate") if f not in fields)]

        def fetch(flt: Filter | None, offset: int, limit: int) -> Page[Contact]:
            query = Query(filter=flt, sort=(Sort("createdDate", "ASC"),), fields=fields, fieldsets=fieldsets)
            return self.query_page(query, limit=limit, offset=offset, keys=keys)

        return iter_keyset_pages(fetch, since=since, page_size=size, base_filter=filter, exclude_ids=exclude_ids)

    def iter_updated_since(
        self,
        since: datetime,
        *,
        page_size: int = CONTACTS_MAX_PAGE,
        filter: Filter | None = None,
        fields: Sequence[str] = (),
        fieldsets: Sequence[str] = (),
    ) -> Iterator[Page[Contact]]:
        """Contacts with ``updatedDate >= since``, each once, in createdDate order.

        ``updatedDate`` is filterable but not sortable in contacts v4 (SPEC.md §3.6), so we cannot keyset on
        it. Instead we filter on it and keyset on createdDate, which never changes: an update during the pull
        does not move a record across our position, so nothing is doubled. A record updated *behind* our
        position during the pull is not in this run, which is why the next ``since`` must be the time this
        pull started (minus clock skew), not the largest updatedDate seen: the next run then picks it up.
        """
        return self.iter_created_since(
            None,
            page_size=page_size,
            filter=Filter.all_of(Filter.gte("updatedDate", since), filter),
            fields=fields,
            fieldsets=fieldsets,
        )

    def find_by_email(self, email: str) -> Contact | None:
        """The contact whose primary email is ``email`` (the one duplicate detection uses), or None."""
        page = self.query_page(Query(filter=Filter.eq("primaryInfo.email", email.strip())), limit=1)
        return page.models()[0] if page.items else None


class ExtendedFieldsApi(_Api):
    """Extended fields (SPEC.md §4)."""

    def find_or_create(self, display_name: str, data_type: str = "TEXT") -> ExtendedField:
        """The custom field with this display name, created if missing; ``.new_field`` tells which."""
        response = self._t.request(
            "POST",
            paths.EXTENDED_FIELDS,
            json={"displayName": display_name, "dataType": data_type},
            operation="extended_fields.find_or_create",
            idempotent=True,  # find-or-create by name: a replay finds the one the first attempt made
        )
        field = _model(response, "field", ExtendedField)
        field.new_field = bool(response.data.get("newField"))
        return field

    def get(self, key: str) -> ExtendedField:
        response = self._t.request("GET", f"{paths.EXTENDED_FIELDS}/{_id(key)}", operation="extended_fields.get")
        return _model(response, "field", ExtendedField)

    def list_pages(
        self,
        *,
        page_size: int = 100,
        field_type: str | None = None,
        namespace: str | None = None,
        starts_with: str | None = None,
    ) -> Iterator[Page[ExtendedField]]:
        """All extended fields by offset (the List answer's metadata key is ``metadata``, handled)."""
        size = _check_page_size(page_size, 100)

        def fetch(offset: int, limit: int) -> Page[ExtendedField]:
            params: dict[str, Any] = {"paging.limit": limit, "paging.offset": offset}
            for name, value in (
                ("fieldType", field_type),
                ("namespace", namespace),
                ("startsWith", starts_with),
            ):
                if value is not None:
                    params[name] = value
            response = self._t.request("GET", paths.EXTENDED_FIELDS, params=params, operation="extended_fields.list")
            return page_from_response(response, "fields", ExtendedField)

        return iter_offset_pages(fetch, limit=size)

    def list(self, **kwargs: Any) -> list[ExtendedField]:
        """Every extended field as models (there are at most a few hundred)."""
        return [field for page in self.list_pages(**kwargs) for field in page.models()]


class ReviewsApi(_Api):
    """Reviews v1 (SPEC.md §5)."""

    def create(self, review: Review | Mapping[str, Any]) -> Review:
        """Create a review. One per author per entity: a second raises ``WixConflictError``
        (DUPLICATE_REVIEW)."""
        response = self._t.request(
            "POST",
            paths.REVIEWS,
            json={"review": _wire(review)},
            operation="reviews.create",
            idempotent=True,  # the one-per-author-per-entity rule turns a replay into a 409, never a copy
        )
        return _model(response, "review", Review)

    def get(self, review_id: str, *, return_private: bool = True) -> Review:
        response = self._t.request(
            "GET",
            f"{paths.REVIEWS}/{_id(review_id)}",
            params={"returnPrivateReviews": "true" if return_private else "false"},
            operation="reviews.get",
        )
        return _model(response, "review", Review)

    def update(
        self,
        review_id: str,
        revision: str | int,
        changes: Review | Mapping[str, Any],
        *,
        field_mask: Sequence[str] | str | None = None,
    ) -> Review:
        body: dict[str, Any] = {"review": {**_wire(changes), "id": review_id, "revision": str(revision)}}
        mask = _field_mask(field_mask)
        if mask:
            body["fieldMask"] = mask
        response = self._t.request("PATCH", f"{paths.REVIEWS}/{_id(review_id)}", json=body, operation="reviews.update")
        return _model(response, "review", Review)

    def delete(self, review_id: str) -> Review | None:
        try:
            response = self._t.request("DELETE", f"{paths.REVIEWS}/{_id(review_id)}", operation="reviews.delete")
        except WixNotFoundError as exc:
            if exc.attempts <= 1:
                raise
            return None  # deleted by an earlier attempt whose answer was lost
        payload = response.data.get("review")
        return Review.model_validate(payload) if isinstance(payload, dict) else None

    def moderate(self, review_id: str, status: ModerationStatus) -> Review:
        response = self._t.request(
            "PATCH",
            f"{paths.REVIEWS}/{_id(review_id)}/moderate",
            json={"reviewId": review_id, "status": status},
            operation="reviews.moderate",
        )
        return _model(response, "review", Review)

    def set_reply(self, review_id: str, message: str) -> Review:
        response = self._t.request(
            "PATCH",
            f"{paths.REVIEWS}/{_id(review_id)}/reply",
            json={"reviewId": review_id, "message": message},
            operation="reviews.set_reply",
        )
        return _model(response, "review", Review)

    def remove_reply(self, review_id: str) -> Review:
        response = self._t.request(
            "DELETE", f"{paths.REVIEWS}/{_id(review_id)}/reply", operation="reviews.remove_reply"
        )
        return _model(response, "review", Review)

    def bulk_create(self, reviews: Iterable[Review | Mapping[str, Any]], *, return_entity: bool = True) -> BulkResult:
        """Up to 100 reviews in one call; per-item failures are in ``results[i].item_metadata``."""
        items = [_wire(r) for r in reviews]
        if not 1 <= len(items) <= 100:
            raise ValueError(f"bulk_create takes 1 to 100 reviews, got {len(items)}")
        response = self._t.request(
            "POST",
            paths.REVIEWS_BULK_CREATE,
            json={"reviews": items, "returnEntity": return_entity},
            operation="reviews.bulk_create",
            idempotent=False,
        )
        return BulkResult.model_validate(response.data)

    def query_pages(
        self,
        query: Query | None = None,
        *,
        page_size: int = CURSOR_MAX_PAGE,
        return_private: bool = True,
        keys: Sequence[str] = (),
    ) -> Iterator[Page[Review]]:
        """All matching reviews by cursor (default order createdDate ASC); ``keys`` as in ``_cursor_pages``."""
        return self._cursor_pages(
            paths.REVIEWS_QUERY,
            "reviews.query",
            "reviews",
            Review,
            query,
            page_size=page_size,
            keys=keys,
            extra_body={"returnPrivateReviews": return_private},
        )

    def count(self, filter: Filter | None = None, *, include_private: bool = True) -> int:
        body: dict[str, Any] = {"includePrivateReviews": include_private}
        if filter is not None:
            body["filter"] = filter.to_wire()
        response = self._t.request("POST", paths.REVIEWS_COUNT, json=body, operation="reviews.count", idempotent=True)
        return int(response.data.get("count") or 0)


class RatingsApi(_Api):
    """Ratings (SPEC.md §6.1: paths and shapes are project conjectures kept in ``paths.RATINGS``)."""

    def create(
        self,
        *,
        namespace: str,
        group: str,
        entity_id: str,
        attribute_name: str,
        value: int | float,
        contact_id: str,
    ) -> Rating:
        """Create one rating in the seed's shape. One per attribute per owner: a second raises
        ``WixConflictError`` (DUPLICATE_RATING)."""
        body = {
            "namespace": namespace,
            "group": group,
            "entityId": entity_id,
            "attributeName": attribute_name,
            "value": value,
            "ratingOwner": {"contactId": contact_id},
        }
        response = self._t.request(
            "POST",
            paths.RATINGS,
            json=body,
            operation="ratings.create",
            idempotent=True,  # one per attribute per owner: a replay is a 409, never a copy
        )
        return _model(response, "rating", Rating)

    def update(self, rating_id: str, revision: str | int, *, value: int | float) -> Rating:
        """Change a rating's value; ``revision`` must be current (409 otherwise)."""
        response = self._t.request(
            "PATCH",
            f"{paths.RATINGS}/{_id(rating_id)}",
            json={"rating": {"id": rating_id, "revision": str(revision), "value": value}},
            operation="ratings.update",
        )
        return _model(response, "rating", Rating)

    def get(self, rating_id: str) -> Rating:
        response = self._t.request("GET", f"{paths.RATINGS}/{_id(rating_id)}", operation="ratings.get")
        return _model(response, "rating", Rating)

    def delete(self, rating_id: str) -> None:
        try:
            self._t.request("DELETE", f"{paths.RATINGS}/{_id(rating_id)}", operation="ratings.delete")
        except WixNotFoundError as exc:
            if exc.attempts <= 1:
                raise

    def query_pages(
        self, query: Query | None = None, *, page_size: int = CURSOR_MAX_PAGE, keys: Sequence[str] = ()
    ) -> Iterator[Page[Rating]]:
        """All matching ratings by cursor; ``keys`` as in ``_cursor_pages``."""
        return self._cursor_pages(
            paths.RATINGS_QUERY, "ratings.query", "ratings", Rating, query, page_size=page_size, keys=keys
        )


class ReviewRequestsApi(_Api):
    """Review requests v2 (SPEC.md §7)."""

    def create(self, review_request: ReviewRequest | Mapping[str, Any]) -> ReviewRequest:
        """Create a review request (``order.id`` and/or ``items``; ``communicationChannel`` defaults to
        EMAIL).

        Not replayed after an ambiguous failure: nothing on the server would stop a second e-mail going out.
        """
        wire = _wire(review_request)
        wire.setdefault("communicationChannel", "EMAIL")
        response = self._t.request(
            "POST",
            paths.REVIEW_REQUESTS,
            json={"reviewRequest": wire},
            operation="review_requests.create",
            idempotent=False,
        )
        return _model(response, "reviewRequest", ReviewRequest)

    def get(self, review_request_id: str) -> ReviewRequest:
        response = self._t.request(
            "GET", f"{paths.REVIEW_REQUESTS}/{_id(review_request_id)}", operation="review_requests.get"
        )
        return _model(response, "reviewRequest", ReviewRequest)

    def delete(self, review_request_id: str) -> None:
        """Delete a review request (Wix allows it only once it is CANCELED)."""
        try:
            self._t.request(
                "DELETE",
                f"{paths.REVIEW_REQUESTS}/{_id(review_request_id)}",
                operation="review_requests.delete",
            )
        except WixNotFoundError as exc:
            if exc.attempts <= 1:
                raise

    def query_pages(
        self, query: Query | None = None, *, page_size: int = CURSOR_MAX_PAGE, keys: Sequence[str] = ()
    ) -> Iterator[Page[ReviewRequest]]:
        """All matching review requests by cursor; ``keys`` as in ``_cursor_pages``."""
        return self._cursor_pages(
            paths.REVIEW_REQUESTS_QUERY,
            "review_requests.query",
            "reviewRequests",
            ReviewRequest,
            query,
            page_size=page_size,
            keys=keys,
        )

    def count(self, filter: Filter | None = None) -> int:
        body: dict[str, Any] = {}
        if filter is not None:
            body["filter"] = filter.to_wire()
        response = self._t.request(
            "POST", paths.REVIEW_REQUESTS_COUNT, json=body, operation="review_requests.count", idempotent=True
        )
        return int(response.data.get("count") or 0)

    def cancel_by_filter(self, filter: Filter) -> str | None:
        """Cancel every SCHEDULED request matching ``filter`` (a server-side job); returns the job id."""
        response = self._t.request(
            "PUT",
            paths.REVIEW_REQUESTS_BULK_CANCEL,
            json={"filter": filter.to_wire()},
            operation="review_requests.cancel_by_filter",
        )
        job_id = response.data.get("jobId")
        return str(job_id) if job_id else None

    def bulk_create(
        self, review_requests: Iterable[ReviewRequest | Mapping[str, Any]], *, return_entity: bool = True
    ) -> BulkResult:
        """Up to 50 review requests in one call; per-item outcomes in ``results`` (created record under
        ``item``)."""
        items = []
        for request in review_requests:
            wire = _wire(request)
            wire.setdefault("communicationChannel", "EMAIL")
            items.append(wire)
        if not 1 <= len(items) <= 50:
            raise ValueError(f"bulk_create takes 1 to 50 review requests, got {len(items)}")
        response = self._t.request(
            "POST",
            paths.REVIEW_REQUESTS_BULK_CREATE,
            json={"reviewRequests": items, "returnEntity": return_entity},
            operation="review_requests.bulk_create",
            idempotent=False,
        )
        return BulkResult.model_validate(response.data)


class WixClient:
    """One Wix site (or account): a connection pool, a retry policy, a rate limiter and the API groups.

    Thread-safe. Use as a context manager (or call :meth:`close`) to release connections.
    ``rate_limit_per_minute`` builds a private limiter (0 or None disables it); pass ``rate_limiter`` instead
    to share one limiter between clients of the same site.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        auth: httpx.Auth,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        rate_limit_per_minute: int | None = 200,
        rate_limiter: RateLimiter | None = None,
        http_transport: httpx.BaseTransport | None = None,
    ) -> None:
        if rate_limiter is None and rate_limit_per_minute:
            rate_limiter = RateLimiter(rate_limit_per_minute, 60.0)
        self._transport = Transport(
            base_url,
            auth,
            timeout=timeout,
            retry=retry,
            rate_limiter=rate_limiter,
            http_transport=http_transport,
        )
        self.auth = auth
        self.contacts = ContactsApi(self._transport)
        self.extended_fields = ExtendedFieldsApi(self._transport)
        self.reviews = ReviewsApi(self._transport)
        self.ratings = RatingsApi(self._transport)
        self.review_requests = ReviewRequestsApi(self._transport)

    @classmethod
    def from_api_key(
        cls,
        api_key: SecretStr | str,
        *,
        site_id: str | None = None,
        account_id: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        **kwargs: Any,
    ) -> WixClient:
        return cls(base_url, auth=ApiKeyAuth(api_key, site_id=site_id, account_id=account_id), **kwargs)

    @classmethod
    def from_oauth_app(
        cls,
        app_id: str,
        app_secret: SecretStr | str,
        instance_id: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        **kwargs: Any,
    ) -> WixClient:
        return cls(base_url, auth=OAuthAppAuth(app_id, app_secret, instance_id), **kwargs)

    def __repr__(self) -> str:
        return f"WixClient(base_url={self.base_url!r}, auth={self.auth!r})"

    def __enter__(self) -> WixClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def stats(self) -> RequestStats:
        """Request counters: ``stats.requests`` in total, ``stats.by_operation``, and ``stats.track()`` to
        count one stream's requests (what ingestion metadata reports as "requests made")."""
        return self._transport.stats

    @property
    def retry(self) -> RetryPolicy:
        return self._transport.retry

    @property
    def rate_limiter(self) -> RateLimiter | None:
        return self._transport.rate_limiter

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        operation: str = "other",
        idempotent: bool | None = None,
    ) -> ApiResponse:
        """Raw access to any endpoint with the client's auth, retries and rate limit."""
        return self._transport.request(
            method, path, json=json, params=params, operation=operation, idempotent=idempotent
        )

    def iter_contacts_created_since(
        self, since: datetime | None, page_size: int = CONTACTS_MAX_PAGE, **kwargs: Any
    ) -> Iterator[Page[Contact]]:
        """Alias of ``contacts.iter_created_since`` (the ingestion layer's entry point)."""
        return self.contacts.iter_created_since(since, page_size=page_size, **kwargs)
