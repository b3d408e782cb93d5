"""What each warehouse table holds: one declarative spec per stream.

The DDL (schema.py), the set-based shaping SQL (upserts.py) and the analyst documentation (`describe_tables`)
are all generated from these specs, so a column cannot exist in one and be missing from another.

Record shapes: shared/wix-api/SPEC.md §3.1 (contact), §5.1 (review), §6 (rating), §7 (review request).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

# Row groups of 16,384 rows instead of DuckDB's 122,880. A pull used to commit batch by batch and checkpoint
# every ~75k contacts; each checkpoint left a partly filled row group behind, and later checkpoints merged those again,
# rewriting their rows: a 1M-contact load spent ~40 of its 85 s in such merges. With small row groups a
# checkpoint writes nearly only full ones and a merge moves a few thousand rows (1M contacts: 85 -> 49 s; the
# file is ~6 % larger). DuckDB takes the size per ATTACH, not per file, so every connection attaches the file with it
# (`connection.py`), and a pull commits whole row groups at a time (`upserts.RowGroupWriter`).
ROW_GROUP_SIZE = 16_384


class Kind(StrEnum):
    """How a column's value is obtained from the record."""

    ID = "id"  # required non-empty JSON string
    STRING = "string"  # JSON scalar read as text; objects/arrays are rejected
    CAST = "cast"  # JSON scalar cast to `sql_type`; an uncastable value rejects the record
    STRING_LIST = "string_list"  # JSON array of scalars -> VARCHAR[]
    PLUCK = "pluck"  # JSON array of objects -> VARCHAR[] of one field (`item_field`), nulls dropped
    ARRAY_LENGTH = "array_length"  # length of a JSON array (0 when absent)
    JSON_ARRAY = "json_array"  # a JSON array kept as JSON text (NULL when absent or empty)
    DERIVED = "derived"  # SQL expression over the other typed columns (`expr`)
    MANAGED = "managed"  # not in the record: maintained by the loaders (e.g. merged_into)


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    kind: Kind
    doc: str
    # JSON paths read in order; the first non-null typed value wins (e.g. `owner` vs `ratingOwner`).
    paths: tuple[str, ...] = ()
    item_field: str | None = None
    expr: str | None = None


@dataclass(frozen=True)
class TableSpec:
    stream: str
    table: str
    # Key of the record list in a query/list response body (SPEC §2.7).
    page_key: str
    columns: tuple[Column, ...]
    # No secondary indexes on purpose: DuckDB's min/max zone maps already serve range filters on
    # created_date, and every extra ART index slows bulk upserts down.
    doc: str

    @property
    def typed_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.kind is not Kind.MANAGED)

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return self.columns + BOOKKEEPING_COLUMNS


def _c(name: str, sql_type: str, kind: Kind, doc: str, *paths: str, **kw: str) -> Column:
    return Column(name=name, sql_type=sql_type, kind=kind, doc=doc, paths=paths, **kw)  # type: ignore[arg-type]


S, C = Kind.STRING, Kind.CAST

TS = "TIMESTAMPTZ"

BOOKKEEPING_COLUMNS: tuple[Column, ...] = (
    _c("record", "JSON", Kind.MANAGED, "The full record exactly as received from the API (minified)."),
    _c(
        "deleted_at",
        TS,
        Kind.MANAGED,
        "When the loaders saw the record disappear (deleted, merged away); NULL while it exists.",
    ),
    _c(
        "_loaded_at",
        TS,
        Kind.MANAGED,
        "When this version of the record was written (unchanged re-loads keep it).",
    ),
    # hash() rather than md5(): 10x cheaper on 1.7 KB records (md5 alone cost ~0.5 s per 100k contacts).
    # The price: if a DuckDB upgrade changes hash(), the next load rewrites each record once as "updated".
    _c(
        "_record_hash",
        "UBIGINT",
        Kind.MANAGED,
        "hash() of `record`: tells an update from an unchanged re-load.",
    ),
    _c(
        "_id_hash",
        "UBIGINT",
        Kind.MANAGED,
        "hash() of `id`: the loaders look ids up by it (a scan of 8-byte numbers, not of the ids' text).",
    ),
)

_ID = _c("id", "VARCHAR", Kind.ID, "Wix id (GUID). Unique: the loaders look every id up before writing.", "$.id")

CONTACTS = TableSpec(
    stream="contacts",
    table="contacts",
    page_key="contacts",
    doc="Wix CRM contacts (Contacts v4).",
    columns=(
        _ID,
        _c("created_date", TS, C, "When the contact was created.", "$.createdDate"),
        _c("updated_date", TS, C, "When the contact last changed.", "$.updatedDate"),
        _c("revision", "BIGINT", C, "Wix revision, +1 per update.", "$.revision"),
        _c("first_name", "VARCHAR", S, "info.name.first", "$.info.name.first"),
        _c("last_name", "VARCHAR", S, "info.name.last", "$.info.name.last"),
        _c(
            "primary_email",
            "VARCHAR",
            S,
            "Primary email (primaryInfo.email, else primaryEmail.email).",
            "$.primaryInfo.email",
            "$.primaryEmail.email",
        ),
        _c(
            "primary_phone",
            "VARCHAR",
            S,
            "Primary phone as entered (primaryInfo.phone, else primaryPhone.phone).",
            "$.primaryInfo.phone",
            "$.primaryPhone.phone",
        ),
        _c(
            "primary_phone_e164",
            "VARCHAR",
            S,
            "Primary phone in E.164 (primaryPhone.e164Phone).",
            "$.primaryPhone.e164Phone",
        ),
        _c(
            "email_subscription_status",
            "VARCHAR",
            S,
            "NOT_SET / PENDING / SUBSCRIBED / UNSUBSCRIBED / NO_SUBSCRIPTION_STATUS, from "
            "primaryEmail.subscriptionStatus, else extended field emailSubscriptions.subscriptionStatus.",
            "$.primaryEmail.subscriptionStatus",
            '$.info.extendedFields.items."emailSubscriptions.subscriptionStatus"',
        ),
        # The merged column above hides the extended field whenever primaryEmail has a status, yet a contact
        # opts in or out through either one: this one lets subscribed_contacts filter on typed columns.
        # Added by schema migration 2 (so it comes after the bookkeeping columns in the table itself).
        _c(
            "email_subscription_status_extended",
            "VARCHAR",
            S,
            "Extended field emailSubscriptions.subscriptionStatus alone (NULL when absent).",
            '$.info.extendedFields.items."emailSubscriptions.subscriptionStatus"',
        ),
        _c(
            "email_deliverability_status",
            "VARCHAR",
            S,
            "primaryEmail.deliverabilityStatus, else extended field emailSubscriptions.deliverabilityStatus.",
            "$.primaryEmail.deliverabilityStatus",
            '$.info.extendedFields.items."emailSubscriptions.deliverabilityStatus"',
        ),
        _c(
            "phone_subscription_status",
            "VARCHAR",
            S,
            "primaryPhone.subscriptionStatus",
            "$.primaryPhone.subscriptionStatus",
        ),
        _c("company", "VARCHAR", S, "info.company", "$.info.company"),
        _c("job_title", "VARCHAR", S, "info.jobTitle", "$.info.jobTitle"),
        _c("birthdate", "DATE", C, "info.birthdate", "$.info.birthdate"),
        _c("locale", "VARCHAR", S, "info.locale", "$.info.locale"),
        _c("label_keys", "VARCHAR[]", Kind.STRING_LIST, "info.labelKeys.items", "$.info.labelKeys.items"),
        _c(
            "source_type",
            "VARCHAR",
            S,
            "source.sourceType (ADMIN, WIX_APP, IMPORT, ...).",
            "$.source.sourceType",
        ),
        _c("source_app_id", "VARCHAR", S, "source.appId", "$.source.appId"),
        _c("last_activity_date", TS, C, "lastActivity.activityDate", "$.lastActivity.activityDate"),
        _c("last_activity_type", "VARCHAR", S, "lastActivity.activityType", "$.lastActivity.activityType"),
        _c(
            "merged_into",
            "VARCHAR",
            Kind.MANAGED,
            "Id of the contact this one was merged into (then deleted_at is set too); NULL otherwise.",
        ),
    ),
)

REVIEWS = TableSpec(
    stream="reviews",
    table="reviews",
    page_key="reviews",
    doc="Product reviews (Reviews v1).",
    columns=(
        _ID,
        _c("created_date", TS, C, "When the review was created.", "$.createdDate"),
        _c("updated_date", TS, C, "When the review last changed.", "$.updatedDate"),
        _c(
            "review_date",
            TS,
            C,
            "Review date (differs from created_date for imported reviews).",
            "$.reviewDate",
        ),
        _c("revision", "BIGINT", C, "Wix revision, +1 per update.", "$.revision"),
        _c("namespace", "VARCHAR", S, "App namespace, e.g. stores.", "$.namespace"),
        _c("entity_id", "VARCHAR", S, "Reviewed item (e.g. product id).", "$.entityId"),
        _c("author_contact_id", "VARCHAR", S, "author.contactId: joins contacts.id.", "$.author.contactId"),
        _c("author_name", "VARCHAR", S, "author.authorName", "$.author.authorName"),
        _c("rating", "INTEGER", C, "content.rating, 1..5.", "$.content.rating"),
        _c("title", "VARCHAR", S, "content.title", "$.content.title"),
        _c("body", "VARCHAR", S, "content.body", "$.content.body"),
        _c("media_count", "INTEGER", Kind.ARRAY_LENGTH, "Number of content.media items.", "$.content.media"),
        _c("has_media", "BOOLEAN", Kind.DERIVED, "media_count > 0", expr="media_count > 0"),
        # Kept apart from `record` so review_media reads ~100 bytes per review, not the whole record (1M reviews:
        # 4 s of JSON parsing for a full rebuild). Added by schema migration 3.
        _c(
            "media",
            "JSON",
            Kind.JSON_ARRAY,
            "content.media as received (a JSON array of {image} / {video} items); NULL without media.",
            "$.content.media",
        ),
        _c("found_helpful", "INTEGER", C, "Helpful votes.", "$.foundHelpful"),
        _c("found_unhelpful", "INTEGER", C, "Unhelpful votes.", "$.foundUnhelpful"),
        _c("helpfulness", "INTEGER", C, "found_helpful - found_unhelpful.", "$.helpfulness"),
        _c(
            "moderation_status",
            "VARCHAR",
            S,
            "UNKNOWN / APPROVED / IN_MODERATION / REJECTED / SUBMITTED.",
            "$.moderation.moderationStatus",
        ),
        _c(
            "moderation_manually_changed",
            "BOOLEAN",
            C,
            "moderation.manuallyChanged",
            "$.moderation.manuallyChanged",
        ),
        _c("reply_message", "VARCHAR", S, "reply.message (the site owner's reply).", "$.reply.message"),
        _c("reply_created_date", TS, C, "reply.createdDate", "$.reply.createdDate"),
        _c("verified", "BOOLEAN", C, "Verified purchase.", "$.verified"),
        _c("origin_type", "VARCHAR", S, "origin.type: UNKNOWN / ORGANIC / APP.", "$.origin.type"),
        _c("origin_app_id", "VARCHAR", S, "origin.appId", "$.origin.appId"),
        _c("relevance_score", "DOUBLE", C, "relevanceScore", "$.relevanceScore"),
        _c("publish_count", "INTEGER", C, "publishCount", "$.publishCount"),
    ),
)

RATINGS = TableSpec(
    stream="ratings",
    table="ratings",
    page_key="ratings",
    doc="Attribute ratings (Ratings v1).",
    columns=(
        _ID,
        _c("created_date", TS, C, "When the rating was created.", "$.createdDate"),
        _c("updated_date", TS, C, "When the rating last changed.", "$.updatedDate"),
        _c("revision", "BIGINT", C, "Wix revision, +1 per update.", "$.revision"),
        _c("namespace", "VARCHAR", S, "namespace, e.g. reviews.", "$.namespace"),
        # `group` is an SQL keyword: a column of that name would have to be quoted in every query.
        _c(
            "rating_group",
            "VARCHAR",
            S,
            "The API's `group` (partition inside a namespace, e.g. stores).",
            "$.group",
        ),
        _c("entity_id", "VARCHAR", S, "Rated item (e.g. product id).", "$.entityId"),
        _c("attribute_name", "VARCHAR", S, "Rated attribute, e.g. overall.", "$.attributeName"),
        _c("value", "DOUBLE", C, "The rating value (the apps use 1..5; the API allows 0..100).", "$.value"),
        _c(
            "owner_contact_id",
            "VARCHAR",
            S,
            "owner.contactId, else ratingOwner.contactId: joins contacts.id.",
            "$.owner.contactId",
            "$.ratingOwner.contactId",
        ),
        _c(
            "owner_member_id",
            "VARCHAR",
            S,
            "owner.memberId / ratingOwner.memberId",
            "$.owner.memberId",
            "$.ratingOwner.memberId",
        ),
        _c(
            "owner_anonymous_visitor_id",
            "VARCHAR",
            S,
            "owner.anonymousVisitorId / ratingOwner.anonymousVisitorId",
            "$.owner.anonymousVisitorId",
            "$.ratingOwner.anonymousVisitorId",
        ),
        _c(
            "related_entity_ids",
            "VARCHAR[]",
            Kind.STRING_LIST,
            "relatedEntityIds (e.g. review ids).",
            "$.relatedEntityIds",
        ),
    ),
)

REVIEW_REQUESTS = TableSpec(
    stream="review_requests",
    table="review_requests",
    page_key="reviewRequests",
    doc="Review requests sent to buyers (Review Requests v2).",
    columns=(
        _ID,
        _c("created_date", TS, C, "When the request was created.", "$.createdDate"),
        _c("updated_date", TS, C, "When the request last changed.", "$.updatedDate"),
        _c("send_date", TS, C, "When the request is/was to be sent.", "$.sendDate"),
        _c("revision", "BIGINT", C, "Wix revision, +1 per update.", "$.revision"),
        _c("namespace", "VARCHAR", S, "namespace, e.g. stores.", "$.namespace"),
        _c("order_id", "VARCHAR", S, "order.id", "$.order.id"),
        _c(
            "recipient_contact_id",
            "VARCHAR",
            S,
            "recipient.contactId: joins contacts.id.",
            "$.recipient.contactId",
        ),
        _c(
            "status",
            "VARCHAR",
            S,
            "SCHEDULED / SENT / CANCELED / FAILED / UNKNOWN_REVIEW_REQUEST_STATUS.",
            "$.status",
        ),
        _c("communication_channel", "VARCHAR", S, "communicationChannel (EMAIL).", "$.communicationChannel"),
        _c(
            "item_ids",
            "VARCHAR[]",
            Kind.PLUCK,
            "items[].catalogItemId",
            "$.items",
            item_field="catalogItemId",
        ),
        _c(
            "review_ids",
            "VARCHAR[]",
            Kind.PLUCK,
            "items[].reviewId (non-null ones).",
            "$.items",
            item_field="reviewId",
        ),
        _c("automation_activation_id", "VARCHAR", S, "automationActivationId", "$.automationActivationId"),
        _c(
            "requested_by_identity_type",
            "VARCHAR",
            S,
            "requestedBy.identityType",
            "$.requestedBy.identityType",
        ),
        _c("requested_by_app_id", "VARCHAR", S, "requestedBy.appId", "$.requestedBy.appId"),
        _c("sent_opened", "BOOLEAN", C, "sentOptions.opened (SENT requests).", "$.sentOptions.opened"),
        _c("failed_reason", "VARCHAR", S, "failedOptions.reason (FAILED requests).", "$.failedOptions.reason"),
    ),
)

TABLES: dict[str, TableSpec] = {t.stream: t for t in (CONTACTS, REVIEWS, RATINGS, REVIEW_REQUESTS)}
STREAMS: tuple[str, ...] = tuple(TABLES)


def table_spec(stream: str) -> TableSpec:
    """The spec of a stream, with an error that lists the valid names."""
    try:
        return TABLES[stream]
    except KeyError:
        raise ValueError(f"unknown stream/table {stream!r}; expected one of {', '.join(STREAMS)}") from None


def describe_tables() -> str:
    """Markdown tables of every warehouse table, for the README's analyst section."""
    return "\n".join(line for spec in TABLES.values() for line in column_docs(spec.table, spec.doc, spec.all_columns))


class DocumentedColumn(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def sql_type(self) -> str: ...
    @property
    def doc(self) -> str: ...


def column_docs(name: str, doc: str, columns: Iterable[DocumentedColumn]) -> list[str]:
    """A table's markdown documentation: heading, description, one row per column (tables and marts alike)."""
    out = [f"### `{name}`", "", doc, "", "| column | type | meaning |", "|---|---|---|"]
    out += [f"| `{c.name}` | {c.sql_type} | {c.doc} |" for c in columns]
    return [*out, ""]
