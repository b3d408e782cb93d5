"""The derived tables (marts) that site owners and analysts open first, as set-based DuckDB SQL.

No Dagster here: `wix_pipelines.defs.marts` calls these builders and reports what they return. Every builder
takes an open read-write connection, reads only live raw rows (`deleted_at IS NULL`) and writes one table.

* No table is sorted on write (a sort of 800k wide rows costs about as much as the ranking itself): the
  previews and the exports order what they read.
* Marts that read typed columns only (`helpfulness_rankings`, `low_rating_alerts`, `rating_summaries`,
  `subscribed_contacts`) are recomputed in full with `CREATE OR REPLACE TABLE`: a scan of typed columns over
  1M rows takes well under a second, and a full rebuild cannot drift from its inputs.
* `review_media` must unnest `content.media` out of the raw JSON `record`, and reading (decompressing) that
  column is what costs: ~2 s per million reviews whatever the filter, because zstd blocks are decompressed
  whole. So it is maintained incrementally: only reviews written since the last build (`_loaded_at`, whose
  row-group min/max lets DuckDB skip untouched blocks) are re-extracted. A full rebuild happens the first
  time, when the mart's SQL version changes, or on request.

The column lists below are the documentation (README tables via `describe_marts()`) and are checked against
the tables the SQL creates by the tests, so the two cannot drift.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from .transaction import transaction

TOP_N = 10  # reviews flagged per entity for "most helpful" widgets (the seed flow shows 10)
DEFAULT_LOW_RATING_THRESHOLD = 3  # ratings strictly below this alert (the seed flow: "rating less than 3")
EXCERPT_CHARS = 140  # short enough for a chat notification line
REVIEWS_OVERALL_ATTRIBUTE = "overall"  # the attribute a review's star rating counts as in rating_summaries
# Bump when review_media's SQL changes: the next build is then a full rebuild instead of an incremental one.
REVIEW_MEDIA_VERSION = 1

# What counts as "published": the seed flows show approved reviews in widgets; IN_MODERATION, SUBMITTED,
# REJECTED and UNKNOWN reviews are not visible on the site.
_PUBLISHED = "moderation_status = 'APPROVED' AND deleted_at IS NULL"


@dataclass(frozen=True)
class MartColumn:
    name: str
    sql_type: str
    doc: str


@dataclass(frozen=True)
class Mart:
    name: str
    doc: str
    columns: tuple[MartColumn, ...]
    preview_order: str  # ORDER BY of the preview shown in the Dagster UI


def _cols(*specs: tuple[str, str, str]) -> tuple[MartColumn, ...]:
    return tuple(MartColumn(*spec) for spec in specs)


TS = "TIMESTAMPTZ"

HELPFULNESS_RANKINGS = Mart(
    "helpfulness_rankings",
    "Published reviews ranked by helpfulness (foundHelpful - foundUnhelpful) per entity and site-wide; ties go to "
    f"more helpful votes, then the newer review, then the id. The top {TOP_N} per entity are flagged for widgets.",
    _cols(
        ("review_id", "VARCHAR", "reviews.id"),
        ("namespace", "VARCHAR", "App namespace, e.g. stores."),
        ("entity_id", "VARCHAR", "Reviewed item (e.g. product id)."),
        ("entity_rank", "BIGINT", "1 = most helpful published review of the entity; unique within the entity."),
        ("site_rank", "BIGINT", "The same order over every published review of the site; unique."),
        ("is_top_10", "BOOLEAN", f"entity_rank <= {TOP_N}: show it in the entity's most-helpful widget."),
        ("helpfulness", "INTEGER", "found_helpful - found_unhelpful (may be negative)."),
        ("found_helpful", "INTEGER", "Helpful votes (0 when absent)."),
        ("found_unhelpful", "INTEGER", "Unhelpful votes (0 when absent)."),
        ("entity_review_count", "BIGINT", "Published reviews of the entity."),
        ("rating", "INTEGER", "Stars, 1..5."),
        ("title", "VARCHAR", "Review title."),
        ("author_name", "VARCHAR", "author.authorName"),
        ("author_contact_id", "VARCHAR", "author.contactId: joins contacts.id."),
        ("verified", "BOOLEAN", "Verified purchase."),
        ("created_date", TS, "When the review was created (the tie-break's 'newer')."),
    ),
    "site_rank",
)

REVIEW_MEDIA = Mart(
    "review_media",
    "One row per image or video of a published review, in the review's order, for gallery widgets.",
    _cols(
        ("review_id", "VARCHAR", "reviews.id"),
        ("position", "INTEGER", "1-based position of the item in the review's content.media."),
        ("namespace", "VARCHAR", "App namespace, e.g. stores."),
        ("entity_id", "VARCHAR", "Reviewed item (e.g. product id)."),
        ("kind", "VARCHAR", "image or video."),
        ("media_id", "VARCHAR", "image.id / video.id"),
        ("url", "VARCHAR", "image.url; for a video video.url, else its first resolution's url."),
        (
            "thumbnail_url",
            "VARCHAR",
            "What a gallery shows: the image itself; for a video the poster of its first resolution with one.",
        ),
        ("width", "INTEGER", "image.width; for a video its first resolution's width."),
        ("height", "INTEGER", "image.height; for a video its first resolution's height."),
        ("alt_text", "VARCHAR", "image.altText (NULL for videos)."),
        ("rating", "INTEGER", "The review's stars, 1..5."),
        ("author_name", "VARCHAR", "author.authorName"),
        ("created_date", TS, "When the review was created."),
    ),
    "created_date DESC, review_id, position",
)

LOW_RATING_ALERTS = Mart(
    "low_rating_alerts",
    "Reviews rated below the threshold (default 3 stars) that the site owner should answer, with a link to the "
    "site's reviews dashboard. Rejected and deleted reviews are left out: the owner has already acted on them.",
    _cols(
        ("review_id", "VARCHAR", "reviews.id; also the alert's identity (one alert per review, delivered once)."),
        ("namespace", "VARCHAR", "App namespace, e.g. stores."),
        ("entity_id", "VARCHAR", "Reviewed item (e.g. product id)."),
        ("author_contact_id", "VARCHAR", "author.contactId: joins contacts.id."),
        ("author_name", "VARCHAR", "author.authorName"),
        ("rating", "INTEGER", "Stars, below `threshold`."),
        ("title", "VARCHAR", "Review title."),
        ("excerpt", "VARCHAR", f"Body (else title), whitespace collapsed, cut to {EXCERPT_CHARS} characters."),
        ("moderation_status", "VARCHAR", "APPROVED / IN_MODERATION / SUBMITTED / UNKNOWN."),
        ("has_reply", "BOOLEAN", "The owner already replied."),
        ("created_date", TS, "When the review was created."),
        ("dashboard_url", "VARCHAR", "Where the owner replies: the site's reviews dashboard."),
        ("threshold", "INTEGER", "The threshold in force when the table was built (alert when rating < it)."),
    ),
    "created_date DESC, review_id",
)

SUBSCRIBED_CONTACTS = Mart(
    "subscribed_contacts",
    "Live contacts whose email subscription is SUBSCRIBED (primaryEmail.subscriptionStatus or the "
    "emailSubscriptions.subscriptionStatus extended field; an explicit UNSUBSCRIBED in either wins), one row per "
    "email address, with only what an email service needs. Exported as CSV and Parquet to data/exports/.",
    _cols(
        ("contact_id", "VARCHAR", "contacts.id"),
        (
            "email",
            "VARCHAR",
            "emailSubscriptions.effectiveEmail, else the primary email; trimmed. Unique (case-insensitive).",
        ),
        ("first_name", "VARCHAR", "info.name.first"),
        ("last_name", "VARCHAR", "info.name.last"),
        ("locale", "VARCHAR", "info.locale (BCP-47), for the language of the mail."),
        ("subscribed_via", "VARCHAR", "primaryEmail, extendedField or both."),
        ("deliverability_status", "VARCHAR", "VALID / BOUNCED / SPAM_COMPLAINT / INACTIVE / NOT_SET."),
        ("updated_date", TS, "When the contact last changed (for incremental syncs on the email side)."),
    ),
    "email",
)

RATING_SUMMARIES = Mart(
    "rating_summaries",
    "Per entity and attribute: count, average and the 1..5 breakdown, from the Ratings API (source = ratings) "
    f"and from published reviews' stars (source = reviews, attribute '{REVIEWS_OVERALL_ATTRIBUTE}').",
    _cols(
        ("source", "VARCHAR", "ratings or reviews."),
        ("namespace", "VARCHAR", "Ratings: namespace (e.g. reviews); reviews: the review namespace (e.g. stores)."),
        ("rating_group", "VARCHAR", "Ratings: the API's group (e.g. stores); NULL for reviews."),
        ("entity_id", "VARCHAR", "Rated item (e.g. product id)."),
        ("attribute_name", "VARCHAR", f"Rated attribute; '{REVIEWS_OVERALL_ATTRIBUTE}' for review stars."),
        ("rating_count", "BIGINT", "Live ratings (or published reviews) counted."),
        ("average_rating", "DOUBLE", "Mean value over rating_count."),
        ("count_1", "BIGINT", "Values equal to 1."),
        ("count_2", "BIGINT", "Values equal to 2."),
        ("count_3", "BIGINT", "Values equal to 3."),
        ("count_4", "BIGINT", "Values equal to 4."),
        ("count_5", "BIGINT", "Values equal to 5 (values outside 1..5 count in rating_count only)."),
        ("last_rated_at", TS, "createdDate of the newest rating or review counted."),
    ),
    "rating_count DESC, source, entity_id, attribute_name",
)

MARTS: dict[str, Mart] = {
    m.name: m for m in (HELPFULNESS_RANKINGS, REVIEW_MEDIA, LOW_RATING_ALERTS, SUBSCRIBED_CONTACTS, RATING_SUMMARIES)
}


@dataclass(frozen=True)
class MartResult:
    """What one build did: rows in the table afterwards, plus the numbers worth showing an operator."""

    mart: str
    rows: int
    mode: str = "full"  # full | incremental
    details: dict[str, int | float | str] | None = None


def _select_list(mart: Mart, exprs: dict[str, str]) -> str:
    """`CAST(expr AS type) AS name` for every documented column, in the documented order."""
    return ",\n  ".join(f"CAST({exprs[c.name]} AS {c.sql_type}) AS {c.name}" for c in mart.columns)


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    return int(con.execute(sql, params or []).fetchall()[0][0])


# --- helpfulness_rankings -----------------------------------------------------------------------------------


def build_helpfulness_rankings(con: duckdb.DuckDBPyConnection) -> MartResult:
    # The API also sends `helpfulness`, but it is derived from the two counters, which are what the
    # tie-break needs too: recomputing keeps rank and displayed score consistent even if one is missing.
    order = "helpfulness DESC, found_helpful DESC, created_date DESC NULLS LAST, review_id"
    select = _select_list(
        HELPFULNESS_RANKINGS,
        {
            "review_id": "review_id",
            "namespace": "namespace",
            "entity_id": "entity_id",
            "entity_rank": "entity_rank",
            "site_rank": "site_rank",
            "is_top_10": f"entity_rank <= {TOP_N}",
            "helpfulness": "helpfulness",
            "found_helpful": "found_helpful",
            "found_unhelpful": "found_unhelpful",
            "entity_review_count": "entity_review_count",
            "rating": "rating",
            "title": "title",
            "author_name": "author_name",
            "author_contact_id": "author_contact_id",
            "verified": "verified",
            "created_date": "created_date",
        },
    )
    con.execute(
        f"""
CREATE OR REPLACE TABLE main.helpfulness_rankings AS
WITH published AS (
  SELECT id AS review_id, namespace, entity_id, rating, title, author_name, author_contact_id, verified,
         created_date, coalesce(found_helpful, 0) AS found_helpful, coalesce(found_unhelpful, 0) AS found_unhelpful,
         coalesce(found_helpful, 0) - coalesce(found_unhelpful, 0) AS helpfulness
  FROM main.reviews WHERE {_PUBLISHED}
), site_ranked AS (
  SELECT *, row_number() OVER (ORDER BY {order}) AS site_rank FROM published
), ranked AS (
  -- The site order is a total order, so within one entity it is that entity's order: ranking by the integer
  -- site_rank needs one multi-key sort instead of two.
  SELECT *, row_number() OVER (PARTITION BY namespace, entity_id ORDER BY site_rank) AS entity_rank,
         count(*) OVER (PARTITION BY namespace, entity_id) AS entity_review_count
  FROM site_ranked
)
SELECT {select} FROM ranked
"""
    )
    rows, entities, top = con.execute(
        "SELECT count(*), count(DISTINCT (namespace, entity_id)), count(*) FILTER (is_top_10) "
        "FROM main.helpfulness_rankings"
    ).fetchall()[0]
    return MartResult("helpfulness_rankings", int(rows), details={"entities": int(entities), "top_10_rows": int(top)})


# --- review_media -------------------------------------------------------------------------------------------

# One json_transform parse per review turns content.media into typed structs (absent keys become NULL).
_MEDIA_STRUCTURE = (
    '[{"image": {"id": "VARCHAR", "url": "VARCHAR", "height": "INTEGER", "width": "INTEGER", '
    '"altText": "VARCHAR"}, "video": {"id": "VARCHAR", "url": "VARCHAR", "resolutions": '
    '[{"url": "VARCHAR", "height": "INTEGER", "width": "INTEGER", "poster": {"url": "VARCHAR"}}]}}]'
)


def _review_media_select(where: str) -> str:
    select = _select_list(
        REVIEW_MEDIA,
        {
            "review_id": "review_id",
            "position": "position",
            "namespace": "namespace",
            "entity_id": "entity_id",
            "kind": "CASE WHEN item.image IS NOT NULL THEN 'image' ELSE 'video' END",
            "media_id": "coalesce(item.image.id, item.video.id)",
            "url": "coalesce(item.image.url, item.video.url, item.video.resolutions[1].url)",
            "thumbnail_url": "coalesce(item.image.url, "
            "list_filter(item.video.resolutions, lambda r: r.poster.url IS NOT NULL)[1].poster.url)",
            "width": "coalesce(item.image.width, item.video.resolutions[1].width)",
            "height": "coalesce(item.image.height, item.video.resolutions[1].height)",
            "alt_text": "item.image.altText",
            "rating": "rating",
            "author_name": "author_name",
            "created_date": "created_date",
        },
    )
    # media_count is a typed column: reviews without media never reach the JSON parse.
    return f"""
WITH items AS (
  SELECT review_id, namespace, entity_id, rating, author_name, created_date,
         unnest(media) AS item, generate_subscripts(media, 1) AS position
  FROM (
    SELECT id AS review_id, namespace, entity_id, rating, author_name, created_date,
           json_transform(json_extract(record, '$.content.media'), '{_MEDIA_STRUCTURE}') AS media
    FROM main.reviews WHERE {_PUBLISHED} AND media_count > 0 AND ({where})
  )
)
SELECT {select} FROM items
WHERE item.image IS NOT NULL OR item.video IS NOT NULL  -- an item of an unknown kind is skipped, not guessed
"""


_MART_STATE_DDL = """CREATE TABLE IF NOT EXISTS main._mart_state (
  mart VARCHAR PRIMARY KEY,
  version INTEGER NOT NULL,
  source_mark TIMESTAMPTZ,
  built_at TIMESTAMPTZ NOT NULL,
  mode VARCHAR NOT NULL
)"""


def build_review_media(con: duckdb.DuckDBPyConnection, *, full_refresh: bool = False) -> MartResult:
    """Incremental unless the table or its state is missing, the SQL version changed, or `full_refresh`.

    The mark is the newest `_loaded_at` seen in the previous build. Reviews written at or after it (`>=`: a
    load in the same microsecond is re-read, which is harmless because changed reviews are deleted first) are
    re-extracted; reviews that stopped being published (deleted, rejected, back in moderation) are dropped by
    an anti-join on typed columns. Writers are serialised (one pool, one file lock), so no load can commit a
    `_loaded_at` older than a mark already taken.
    """
    with transaction(con):
        con.execute(_MART_STATE_DDL)
        state = con.execute("SELECT version, source_mark FROM main._mart_state WHERE mart = 'review_media'").fetchall()
        exists = _count(
            con,
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name = 'review_media'",
        )
        mark: datetime | None = con.execute("SELECT max(_loaded_at) FROM main.reviews").fetchall()[0][0]
        previous: datetime | None = state[0][1] if state else None
        incremental = bool(exists and state and state[0][0] == REVIEW_MEDIA_VERSION and not full_refresh)
        changed = 0
        if not incremental:
            con.execute(f"CREATE OR REPLACE TABLE main.review_media AS {_review_media_select('TRUE')}")
        elif previous is not None:
            changed = _count(con, "SELECT count(*) FROM main.reviews WHERE _loaded_at >= ?", [previous])
            con.execute(
                "DELETE FROM main.review_media WHERE review_id IN "
                "(SELECT id FROM main.reviews WHERE _loaded_at >= ?) "
                f"OR review_id NOT IN (SELECT id FROM main.reviews WHERE {_PUBLISHED} AND media_count > 0)",
                [previous],
            )
            con.execute(f"INSERT INTO main.review_media {_review_media_select('_loaded_at >= $1')}", [previous])
        else:  # the previous build saw no reviews at all: everything is new
            con.execute(f"INSERT INTO main.review_media {_review_media_select('TRUE')}")
        con.execute(
            "INSERT OR REPLACE INTO main._mart_state VALUES ('review_media', ?, ?, now(), ?)",
            [REVIEW_MEDIA_VERSION, mark, "incremental" if incremental else "full"],
        )
        rows, images, videos, reviews = con.execute(
            "SELECT count(*), count(*) FILTER (kind = 'image'), count(*) FILTER (kind = 'video'), "
            "count(DISTINCT review_id) FROM main.review_media"
        ).fetchall()[0]
    details: dict[str, int | float | str] = {
        "images": int(images),
        "videos": int(videos),
        "reviews_with_media": int(reviews),
        "source_mark": mark.isoformat() if mark else "",
    }
    if incremental:
        details["reviews_reread"] = changed
    return MartResult("review_media", int(rows), "incremental" if incremental else "full", details)


# --- low_rating_alerts --------------------------------------------------------------------------------------


def build_low_rating_alerts(
    con: duckdb.DuckDBPyConnection, *, threshold: int = DEFAULT_LOW_RATING_THRESHOLD, dashboard_url: str
) -> MartResult:
    """`dashboard_url` is the same for every alert (the site's reviews dashboard; Wix has no per-review URL)."""
    if not 1 <= threshold <= 6:
        raise ValueError(f"low-rating threshold {threshold} is outside 1..6 (alerts fire for rating < threshold)")
    text = "nullif(trim(regexp_replace(coalesce(nullif(trim(body), ''), title, ''), '\\s+', ' ', 'g')), '')"
    select = _select_list(
        LOW_RATING_ALERTS,
        {
            "review_id": "id",
            "namespace": "namespace",
            "entity_id": "entity_id",
            "author_contact_id": "author_contact_id",
            "author_name": "author_name",
            "rating": "rating",
            "title": "title",
            "excerpt": f"CASE WHEN length(txt) > {EXCERPT_CHARS} "
            f"THEN rtrim(left(txt, {EXCERPT_CHARS - 1})) || '…' ELSE txt END",
            "moderation_status": "moderation_status",
            "has_reply": "reply_message IS NOT NULL",
            "created_date": "created_date",
            "dashboard_url": "$dashboard_url",
            "threshold": "$threshold",
        },
    )
    con.execute(
        f"""
CREATE OR REPLACE TABLE main.low_rating_alerts AS
SELECT {select} FROM (SELECT *, {text} AS txt FROM main.reviews
  WHERE deleted_at IS NULL AND rating < $threshold AND coalesce(moderation_status, '') <> 'REJECTED')
""",
        {"threshold": threshold, "dashboard_url": dashboard_url},
    )
    rows, unanswered = con.execute(
        "SELECT count(*), count(*) FILTER (NOT has_reply) FROM main.low_rating_alerts"
    ).fetchall()[0]
    return MartResult("low_rating_alerts", int(rows), details={"threshold": threshold, "unanswered": int(unanswered)})


# --- subscribed_contacts ------------------------------------------------------------------------------------


def build_subscribed_contacts(con: duckdb.DuckDBPyConnection) -> MartResult:
    # The typed email_subscription_status coalesces the two signals, so it hides the extended field whenever
    # primaryEmail says NOT_SET: read both from the record. An UNSUBSCRIBED on either side wins, because
    # mailing someone who opted out is the expensive mistake.
    select = _select_list(
        SUBSCRIBED_CONTACTS,
        {
            "contact_id": "id",
            "email": "email",
            "first_name": "first_name",
            "last_name": "last_name",
            "locale": "locale",
            "subscribed_via": "CASE WHEN primary_status = 'SUBSCRIBED' AND ext_status = 'SUBSCRIBED' THEN 'both' "
            "WHEN primary_status = 'SUBSCRIBED' THEN 'primaryEmail' ELSE 'extendedField' END",
            "deliverability_status": "email_deliverability_status",
            "updated_date": "updated_date",
        },
    )
    con.execute(
        f"""
CREATE OR REPLACE TABLE main.subscribed_contacts AS
WITH statuses AS (
  SELECT id, first_name, last_name, locale, email_deliverability_status, updated_date, primary_email,
         json_extract_string(record, ['$.primaryEmail.subscriptionStatus',
           '$.info.extendedFields.items."emailSubscriptions.subscriptionStatus"',
           '$.info.extendedFields.items."emailSubscriptions.effectiveEmail"']) AS s
  FROM main.contacts WHERE deleted_at IS NULL
), subscribed AS (
  SELECT *, s[1] AS primary_status, s[2] AS ext_status,
         nullif(trim(coalesce(nullif(trim(s[3]), ''), primary_email)), '') AS email
  FROM statuses
)
SELECT {select} FROM subscribed
WHERE 'SUBSCRIBED' IN (primary_status, ext_status)
  AND coalesce(primary_status, '') <> 'UNSUBSCRIBED' AND coalesce(ext_status, '') <> 'UNSUBSCRIBED'
  AND email IS NOT NULL
-- Email services key on the address: one row per address, the most recently updated contact wins.
QUALIFY row_number() OVER (PARTITION BY lower(email) ORDER BY updated_date DESC NULLS LAST, id) = 1
"""
    )
    rows, both = con.execute(
        "SELECT count(*), count(*) FILTER (subscribed_via = 'both') FROM main.subscribed_contacts"
    ).fetchall()[0]
    return MartResult("subscribed_contacts", int(rows), details={"subscribed_through_both": int(both)})


@dataclass(frozen=True)
class ExportResult:
    csv: Path
    parquet: Path
    rows: int
    csv_bytes: int
    parquet_bytes: int


def export_table(con: duckdb.DuckDBPyConnection, table: str, export_dir: str | Path) -> ExportResult:
    """Write `<table>.csv` and `<table>.parquet` under `export_dir`, each atomically replaced.

    COPY writes a temp file in the same directory and `os.replace` swaps it in, so a reader (or an upload job
    picking the file up) never sees half a file. Both come from one read of the table in one transaction.
    """
    if table not in MARTS:
        raise ValueError(f"{table!r} is not a mart; exportable: {', '.join(MARTS)}")
    directory = Path(export_dir).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    order = MARTS[table].preview_order
    written: dict[str, Path] = {}
    tag = f"{os.getpid()}.{uuid.uuid4().hex[:8]}"
    temps = {fmt: directory / f".{table}.{tag}.{fmt}.tmp" for fmt in ("csv", "parquet")}
    options = {"csv": "FORMAT csv, HEADER true", "parquet": "FORMAT parquet, COMPRESSION zstd"}
    try:
        with transaction(con):
            for fmt, tmp in temps.items():
                path = str(tmp).replace("'", "''")
                con.execute(f"COPY (SELECT * FROM main.{table} ORDER BY {order}) TO '{path}' ({options[fmt]})")
            rows = _count(con, f"SELECT count(*) FROM main.{table}")
        for fmt, tmp in temps.items():
            target = directory / f"{table}.{fmt}"
            os.replace(tmp, target)
            written[fmt] = target
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
    return ExportResult(
        csv=written["csv"],
        parquet=written["parquet"],
        rows=rows,
        csv_bytes=written["csv"].stat().st_size,
        parquet_bytes=written["parquet"].stat().st_size,
    )


# --- rating_summaries ---------------------------------------------------------------------------------------


def build_rating_summaries(con: duckdb.DuckDBPyConnection) -> MartResult:
    breakdown = {f"count_{v}": f"count(*) FILTER (value = {v})" for v in range(1, 6)}
    common = {
        "entity_id": "entity_id",
        "rating_count": "count(value)",
        "average_rating": "avg(value)",
        **breakdown,
        "last_rated_at": "max(created_date)",
    }
    from_ratings = _select_list(
        RATING_SUMMARIES,
        {
            "source": "'ratings'",
            "namespace": "namespace",
            "rating_group": "rating_group",
            "attribute_name": "attribute_name",
            **common,
        },
    )
    from_reviews = _select_list(
        RATING_SUMMARIES,
        {
            "source": "'reviews'",
            "namespace": "namespace",
            "rating_group": "NULL",
            "attribute_name": f"'{REVIEWS_OVERALL_ATTRIBUTE}'",
            **common,
        },
    )
    con.execute(
        f"""
CREATE OR REPLACE TABLE main.rating_summaries AS
SELECT {from_ratings} FROM main.ratings WHERE deleted_at IS NULL AND value IS NOT NULL
GROUP BY namespace, rating_group, entity_id, attribute_name
UNION ALL
SELECT {from_reviews} FROM (SELECT namespace, entity_id, rating AS value, created_date FROM main.reviews
  WHERE {_PUBLISHED} AND rating IS NOT NULL)
GROUP BY namespace, entity_id
"""
    )
    per_source = dict(con.execute("SELECT source, count(*) FROM main.rating_summaries GROUP BY source").fetchall())
    return MartResult(
        "rating_summaries",
        sum(per_source.values()),
        details={f"{source}_rows": int(n) for source, n in sorted(per_source.items())},
    )


# --- shared -------------------------------------------------------------------------------------------------


def preview_markdown(con: duckdb.DuckDBPyConnection, mart: str, rows: int = 5) -> str:
    """The first rows of a mart in its natural order, as a markdown table for the Dagster UI."""
    frame = con.execute(f"SELECT * FROM main.{mart} ORDER BY {MARTS[mart].preview_order} LIMIT {int(rows)}").df()
    return frame.to_markdown(index=False) if len(frame) else "(empty)"


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """(name, type) of a table's columns in order, as DuckDB reports them."""
    return [
        (str(name), str(dtype))
        for name, dtype in con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
            [table],
        ).fetchall()
    ]


def describe_marts() -> str:
    """Markdown tables of every mart, for the README's analyst section."""
    out: list[str] = []
    for mart in MARTS.values():
        out += [f"### `{mart.name}`", "", mart.doc, "", "| column | type | meaning |", "|---|---|---|"]
        out += [f"| `{c.name}` | {c.sql_type} | {c.doc} |" for c in mart.columns]
        out.append("")
    return "\n".join(out)
