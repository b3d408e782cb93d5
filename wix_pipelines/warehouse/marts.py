"""The derived tables (marts) that site owners and analysts open first, as set-based DuckDB SQL.

No Dagster here: `wix_pipelines.defs.marts` calls these builders and reports what they return. Every builder
takes an open read-write connection, reads only live raw rows (`deleted_at IS NULL`) and writes one table.

What a build costs on 1M reviews is mostly writing: DuckDB spends more on compressing high-entropy strings (GUIDs,
URLs) than on the ranking sorts themselves, and decompressing the raw JSON `record` costs ~2 s per million
reviews whatever the filter (zstd blocks are decompressed whole). Hence:

* No table is sorted on write (a sort of 800k rows costs about as much as the ranking itself): the previews
  and the exports order what they read.
* Marts read typed columns wherever the raw tables have them; `review_media` parses only `reviews.media` (the
  media array kept apart at load), and only the effective email of subscribed contacts still parses the record.
* `helpfulness_rankings` ranks on integers only (entity numbers, rowids; the id tie-break is settled for the
  few hundred exact ties alone), joins the narrow output columns back once, and writes the GUID column
  uncompressed (compressing it cost more than the whole ranking, and saves ~15 MB). Any change of reviews
  moves most rows' `site_rank`, so a changed input means a full rebuild (rewriting ~800k narrow rows is
  cheaper than updating them); an unchanged input (same newest `_loaded_at`, same published count) is skipped.
* `review_media` is maintained incrementally: only reviews written since the last build (`_loaded_at`) are
  re-extracted, and reviews since deleted are dropped. A full rebuild happens the first time, when the mart's
  SQL version changes, or on request.
* The other marts are recomputed in full with `CREATE OR REPLACE TABLE`: a scan of typed columns over 1M rows
  takes well under a second, and a full rebuild cannot drift from its inputs.

Change tracking relies on the loaders: every insert or change of a raw row (including an un-delete) writes a
new `_loaded_at`, while marking a row deleted only sets `deleted_at`, so the set of live rows can otherwise
only shrink. Writers are serialised (one pool, one file lock) and `_loaded_at` is the writing transaction's
start time, so no load can commit a `_loaded_at` at or before a mark already taken.

The column lists below are the documentation (README tables via `describe_marts()`) and are checked against
the tables the SQL creates by the tests, so the two cannot drift.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from .summary import query_markdown
from .tables import column_docs
from .transaction import transaction

TOP_N = 10  # reviews flagged per entity for "most helpful" widgets (the seed flow shows 10)
DEFAULT_LOW_RATING_THRESHOLD = 3  # ratings strictly below this alert (the seed flow: "rating less than 3")
EXCERPT_CHARS = 140  # short enough for a chat notification line
REVIEWS_OVERALL_ATTRIBUTE = "overall"  # the attribute a review's star rating counts as in rating_summaries
# Bump when a mart's SQL changes: its next build is then a full rebuild, never an incremental one or a skip.
REVIEW_MEDIA_VERSION = 3  # 2: strict `>` mark, deletions found through deleted_at; 3: reads reviews.media
HELPFULNESS_RANKINGS_VERSION = 2  # 2: integer ranking, narrow columns

# What counts as "published": the seed flows show approved reviews in widgets; IN_MODERATION, SUBMITTED,
# REJECTED and UNKNOWN reviews are not visible on the site.
_PUBLISHED = "moderation_status = 'APPROVED' AND deleted_at IS NULL"


@dataclass(frozen=True)
class MartColumn:
    name: str
    sql_type: str
    doc: str
    # Written with `USING COMPRESSION uncompressed`: for GUIDs and URLs DuckDB's string compression (dict/FSST
    # analysis) costs ~1 s per 800k values and saves little.
    uncompressed: bool = False


@dataclass(frozen=True)
class Mart:
    name: str
    doc: str
    columns: tuple[MartColumn, ...]
    preview_order: str  # ORDER BY of the preview shown in the Dagster UI


def _cols(*specs: tuple[str, str, str] | tuple[str, str, str, bool]) -> tuple[MartColumn, ...]:
    return tuple(MartColumn(*spec) for spec in specs)


TS = "TIMESTAMPTZ"

HELPFULNESS_RANKINGS = Mart(
    "helpfulness_rankings",
    "Published reviews ranked by helpfulness (foundHelpful - foundUnhelpful) per entity and site-wide; ties go to "
    f"more helpful votes, then the newer review, then the id. The top {TOP_N} per entity are flagged for widgets. "
    "Text (title, body, author) stays in `reviews`: join on `review_id = reviews.id`.",
    _cols(
        ("review_id", "VARCHAR", "reviews.id", True),
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
        ("verified", "BOOLEAN", "Verified purchase."),
        ("created_date", TS, "When the review was created (the tie-break's 'newer')."),
    ),
    "site_rank",
)

REVIEW_MEDIA = Mart(
    "review_media",
    "One row per image or video of a published review, in the review's order, for gallery widgets.",
    _cols(
        ("review_id", "VARCHAR", "reviews.id", True),
        ("position", "INTEGER", "1-based position of the item in the review's content.media."),
        ("namespace", "VARCHAR", "App namespace, e.g. stores."),
        ("entity_id", "VARCHAR", "Reviewed item (e.g. product id)."),
        ("kind", "VARCHAR", "image or video."),
        ("media_id", "VARCHAR", "image.id / video.id", True),
        ("url", "VARCHAR", "image.url; for a video video.url, else its first resolution's url.", True),
        (
            "thumbnail_url",
            "VARCHAR",
            "What a gallery shows: the image itself; for a video the poster of its first resolution with one.",
            True,
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
        ("review_id", "VARCHAR", "reviews.id; also the alert's identity (one alert per review, delivered once).", True),
        ("namespace", "VARCHAR", "App namespace, e.g. stores."),
        ("entity_id", "VARCHAR", "Reviewed item (e.g. product id)."),
        ("author_contact_id", "VARCHAR", "author.contactId: joins contacts.id.", True),
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
        ("contact_id", "VARCHAR", "contacts.id", True),
        (
            "email",
            "VARCHAR",
            "emailSubscriptions.effectiveEmail, else the primary email; trimmed. Unique (case-insensitive).",
            True,
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
    mode: str = "full"  # full | incremental | unchanged (inputs as at the last build: nothing written)
    details: dict[str, int | float | str] | None = None


def _select_list(mart: Mart, exprs: dict[str, str]) -> str:
    """`CAST(expr AS type) AS name` for every documented column, in the documented order."""
    return ",\n  ".join(f"CAST({exprs[c.name]} AS {c.sql_type}) AS {c.name}" for c in mart.columns)


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    return int(con.execute(sql, params or []).fetchall()[0][0])


def _create_table_sql(mart: Mart) -> str:
    """CREATE OR REPLACE TABLE with the documented columns, types and compression (filled by INSERT ... SELECT)."""
    cols = ",\n  ".join(
        f"{c.name} {c.sql_type}{' USING COMPRESSION uncompressed' if c.uncompressed else ''}" for c in mart.columns
    )
    return f"CREATE OR REPLACE TABLE main.{mart.name} (\n  {cols}\n)"


@contextmanager
def _unordered_writes(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Let DuckDB write a mart in parallel: marts are not stored in any order (readers sort), and keeping insertion
    order forced the 431k-row review_media rebuild through one thread (2.3 s -> 1.4 s on 1M reviews). The
    connection's own setting is restored afterwards: it belongs to the caller."""
    before = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    con.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if before else 'false'}")


def _table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        _count(
            con,
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name = ?",
            [table],
        )
    )


# --- build state (marts maintained incrementally or skipped when unchanged) -----------------------------------

_MART_STATE_DDL = """CREATE TABLE IF NOT EXISTS main._mart_state (
  mart VARCHAR PRIMARY KEY,
  version INTEGER NOT NULL,
  source_mark TIMESTAMPTZ,
  built_at TIMESTAMPTZ NOT NULL,
  mode VARCHAR NOT NULL
)"""


@dataclass(frozen=True)
class _State:
    version: int
    source_mark: datetime | None


def _load_state(con: duckdb.DuckDBPyConnection, mart: str) -> _State | None:
    con.execute(_MART_STATE_DDL)
    rows = con.execute("SELECT version, source_mark FROM main._mart_state WHERE mart = ?", [mart]).fetchall()
    return _State(int(rows[0][0]), rows[0][1]) if rows else None


def _previous_build(con: duckdb.DuckDBPyConnection, mart: str, version: int, full_refresh: bool) -> _State | None:
    """The state of the mart's last build when its table is there and this version of its SQL built it; None: build
    it in full."""
    state = _load_state(con, mart)
    if full_refresh or state is None or state.version != version or not _table_exists(con, mart):
        return None
    return state


def _save_state(con: duckdb.DuckDBPyConnection, mart: str, version: int, mark: datetime | None, mode: str) -> None:
    con.execute("INSERT OR REPLACE INTO main._mart_state VALUES (?, ?, ?, now(), ?)", [mart, version, mark, mode])


def _newest_load(con: duckdb.DuckDBPyConnection, table: str) -> datetime | None:
    """max(_loaded_at): the mark a build records, to find what was written after it next time."""
    mark: datetime | None = con.execute(f"SELECT max(_loaded_at) FROM main.{table}").fetchall()[0][0]
    return mark


# --- helpfulness_rankings -----------------------------------------------------------------------------------

# The API also sends `helpfulness`, but it is derived from the two counters, which are what the tie-break needs
# too: recomputing keeps rank and displayed score consistent even if one is missing.
_HELPFULNESS = "coalesce(found_helpful, 0) - coalesce(found_unhelpful, 0)"
# The site order without its last key (the review id): see `ties` below.
_SITE_ORDER = "helpfulness DESC, found_helpful DESC, created_date DESC NULLS LAST"


def _helpfulness_rankings_sql() -> str:
    select = _select_list(
        HELPFULNESS_RANKINGS,
        {
            "review_id": "r.id",
            "namespace": "r.namespace",
            "entity_id": "r.entity_id",
            "entity_rank": "k.entity_rank",
            "site_rank": "k.site_rank",
            "is_top_10": f"k.entity_rank <= {TOP_N}",
            "helpfulness": _HELPFULNESS.replace("found_", "r.found_"),
            "found_helpful": "coalesce(r.found_helpful, 0)",
            "found_unhelpful": "coalesce(r.found_unhelpful, 0)",
            "entity_review_count": "k.entity_review_count",
            "rating": "r.rating",
            "verified": "r.verified",
            "created_date": "r.created_date",
        },
    )
    # Every sort is on integers: strings as sort keys or as payload carried through a sort cost ~3x (measured
    # on 800k rows). Rows are named by reviews.rowid, stable within the statement, and the output columns are
    # joined back once at the end.
    return f"""
INSERT INTO main.helpfulness_rankings
WITH entities AS (
  -- Entities numbered 1..n with their published review counts and the number of published reviews of the
  -- entities numbered before them: an entity rank is then a position in one sort by (entity, site rank).
  SELECT namespace, entity_id, entity, reviews, sum(reviews) OVER (ORDER BY entity) - reviews AS before
  FROM (SELECT namespace, entity_id, count(*) AS reviews, row_number() OVER () AS entity
        FROM main.reviews WHERE {_PUBLISHED} GROUP BY namespace, entity_id)
), site AS (
  -- rank() is where a review's group of exact ties (same helpfulness, helpful votes and created date) starts;
  -- for a review without a tie it equals row_number().
  SELECT rid, entity, rank() OVER w AS tie_start, row_number() OVER w AS position
  FROM (SELECT r.rowid AS rid, e.entity, {_HELPFULNESS} AS helpfulness, coalesce(found_helpful, 0) AS found_helpful,
               created_date
        FROM main.reviews r JOIN entities e
          ON r.namespace IS NOT DISTINCT FROM e.namespace AND r.entity_id IS NOT DISTINCT FROM e.entity_id
        WHERE {_PUBLISHED})
  WINDOW w AS (ORDER BY {_SITE_ORDER})
), ties AS (
  -- The id settles exact ties (a few hundred reviews per million): the only string comparison of the build.
  SELECT s.rid, s.tie_start + row_number() OVER (PARTITION BY s.tie_start ORDER BY r.id) - 1 AS site_rank
  FROM site s JOIN main.reviews r ON r.rowid = s.rid
  WHERE s.tie_start IN (SELECT tie_start FROM site WHERE position <> tie_start)
), ranked AS (
  SELECT rid, entity, site_rank, row_number() OVER (ORDER BY entity, site_rank) AS entity_position
  FROM (SELECT s.rid, s.entity, coalesce(t.site_rank, s.position) AS site_rank FROM site s LEFT JOIN ties t USING (rid))
)
SELECT {select}
FROM (SELECT k.rid, k.site_rank, k.entity_position - e.before AS entity_rank, e.reviews AS entity_review_count
      FROM ranked k JOIN entities e USING (entity)) k
JOIN main.reviews r ON r.rowid = k.rid
"""


def build_helpfulness_rankings(con: duckdb.DuckDBPyConnection, *, full_refresh: bool = False) -> MartResult:
    """A full rebuild, or nothing when the reviews are as at the last build (see the module docstring).

    "As at the last build": the same newest `_loaded_at` (no review written since) and as many published
    reviews as the table has rows (a deletion, which leaves `_loaded_at` alone, can only lower that count).
    """
    name = HELPFULNESS_RANKINGS.name
    with transaction(con):
        previous = _previous_build(con, name, HELPFULNESS_RANKINGS_VERSION, full_refresh)
        mark = _newest_load(con, "reviews")
        unchanged = (
            previous is not None
            and previous.source_mark == mark
            and _count(con, f"SELECT count(*) FROM main.{name}")
            == _count(con, f"SELECT count(*) FROM main.reviews WHERE {_PUBLISHED}")
        )
        if not unchanged:
            con.execute(_create_table_sql(HELPFULNESS_RANKINGS))
            con.execute(_helpfulness_rankings_sql())
            _save_state(con, name, HELPFULNESS_RANKINGS_VERSION, mark, "full")
        rows, entities, top = con.execute(
            f"SELECT count(*), count(*) FILTER (entity_rank = 1), count(*) FILTER (is_top_10) FROM main.{name}"
        ).fetchall()[0]
    return MartResult(
        name,
        int(rows),
        "unchanged" if unchanged else "full",
        details={"entities": int(entities), "top_10_rows": int(top)},
    )


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
           json_transform(media, '{_MEDIA_STRUCTURE}') AS media
    FROM main.reviews WHERE {_PUBLISHED} AND media_count > 0 AND ({where})
  )
)
SELECT {select} FROM items
WHERE item.image IS NOT NULL OR item.video IS NOT NULL  -- an item of an unknown kind is skipped, not guessed
"""


def build_review_media(con: duckdb.DuckDBPyConnection, *, full_refresh: bool = False) -> MartResult:
    """Incremental unless the table or its state is missing, the SQL version changed, or `full_refresh`.

    The mark is the newest `_loaded_at` seen by the previous build. Reviews written after it are re-extracted
    (their old rows deleted first), and the rows of reviews marked deleted are dropped (deleted reviews with
    media: a set that only grows by deletions, probed once). A review that stopped being published or lost its
    media was rewritten by the loaders, so it is among the re-read ones. Nothing to re-read and nothing to drop
    is mode `unchanged`: the table and the state stay as they are.
    """
    name = REVIEW_MEDIA.name
    with _unordered_writes(con), transaction(con):
        previous = _previous_build(con, name, REVIEW_MEDIA_VERSION, full_refresh)
        mark = _newest_load(con, "reviews")
        incremental = previous is not None
        changed = removed = 0
        if previous is None:
            con.execute(_create_table_sql(REVIEW_MEDIA))
            con.execute(f"INSERT INTO main.{name} {_review_media_select('TRUE')}")
        else:
            # No mark: the previous build saw no reviews at all, so every review is new to it.
            since = "TRUE" if previous.source_mark is None else "_loaded_at > $since"
            params: dict[str, object] = {} if previous.source_mark is None else {"since": previous.source_mark}
            changed = int(con.execute(f"SELECT count(*) FROM main.reviews WHERE {since}", params).fetchall()[0][0])
            removed = int(
                con.execute(
                    f"DELETE FROM main.{name} WHERE review_id IN (SELECT id FROM main.reviews "
                    f"WHERE ({since}) OR (deleted_at IS NOT NULL AND media_count > 0))",
                    params,
                ).fetchall()[0][0]
            )
            if changed:
                con.execute(f"INSERT INTO main.{name} {_review_media_select(since)}", params)
        mode = "full" if not incremental else ("incremental" if changed or removed else "unchanged")
        if mode != "unchanged":
            _save_state(con, name, REVIEW_MEDIA_VERSION, mark, mode)
        rows, images, videos, reviews = con.execute(
            "SELECT count(*), count(*) FILTER (kind = 'image'), count(*) FILTER (kind = 'video'), "
            f"count(DISTINCT review_id) FROM main.{name}"
        ).fetchall()[0]
    details: dict[str, int | float | str] = {
        "images": int(images),
        "videos": int(videos),
        "reviews_with_media": int(reviews),
        "source_mark": mark.isoformat() if mark else "",
    }
    if incremental:
        details["reviews_reread"] = changed
        details["rows_deleted"] = removed
    return MartResult(name, int(rows), mode, details)


# --- low_rating_alerts --------------------------------------------------------------------------------------


def build_low_rating_alerts(
    con: duckdb.DuckDBPyConnection, *, threshold: int = DEFAULT_LOW_RATING_THRESHOLD, dashboard_url: str
) -> MartResult:
    """`dashboard_url` is the same for every alert (the site's reviews dashboard; Wix has no per-review URL)."""
    if not 1 <= threshold <= 6:
        raise ValueError(f"low-rating threshold {threshold} is outside 1..6 (alerts fire for rating < threshold)")
    # Whitespace runs collapsed to one space. RE2's \s is [\t\n\f\r ], so a text with none of those characters
    # other than single spaces is its own collapse: regexp_replace (~10 us a row whatever the length) only runs
    # on the texts it can change.
    raw = "coalesce(nullif(trim(body), ''), title, '')"
    needs_collapse = " OR ".join(
        [f"contains({raw}, '  ')", *(f"contains({raw}, chr({c}))" for c in (9, 10, 11, 12, 13))]
    )
    text = f"nullif(trim(CASE WHEN {needs_collapse} THEN regexp_replace({raw}, '\\s+', ' ', 'g') ELSE {raw} END), '')"
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
    con.execute(_create_table_sql(LOW_RATING_ALERTS))
    con.execute(
        f"""
INSERT INTO main.low_rating_alerts
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
    """Subscribed = SUBSCRIBED in either field and UNSUBSCRIBED in neither: mailing someone who opted out is the
    expensive mistake.

    The typed columns decide who is subscribed: `email_subscription_status` is primaryEmail's status when it
    has one, else the extended field's, and `email_subscription_status_extended` is the extended field's
    alone; for each of the three conditions above the merged column stands in exactly for primaryEmail's.
    Only the subscribed contacts' records are then parsed, once each, for what no typed column holds: the
    effective email, and whether primaryEmail itself says SUBSCRIBED (for `subscribed_via`).
    """
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
    con.execute(_create_table_sql(SUBSCRIBED_CONTACTS))
    con.execute(
        f"""
INSERT INTO main.subscribed_contacts
-- MATERIALIZED: each expression once per contact; inlined, the JSON read and the email's string functions were
-- evaluated once per reference (filter, partition, select): 2.1 s -> 1.4 s on 200k contacts.
WITH subscribed AS MATERIALIZED (
  SELECT id, first_name, last_name, locale, email_deliverability_status, updated_date, primary_email,
         email_subscription_status_extended AS ext_status,
         json_extract_string(record, ['$.primaryEmail.subscriptionStatus',
           '$.info.extendedFields.items."emailSubscriptions.effectiveEmail"']) AS s
  FROM main.contacts
  WHERE deleted_at IS NULL
    AND 'SUBSCRIBED' IN (email_subscription_status, email_subscription_status_extended)
    AND coalesce(email_subscription_status, '') <> 'UNSUBSCRIBED'
    AND coalesce(email_subscription_status_extended, '') <> 'UNSUBSCRIBED'
), addressed AS MATERIALIZED (
  SELECT *, s[1] AS primary_status, nullif(trim(coalesce(nullif(trim(s[2]), ''), primary_email)), '') AS email
  FROM subscribed
)
SELECT {select} FROM addressed
WHERE email IS NOT NULL
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
    return query_markdown(con, f"SELECT * FROM main.{mart} ORDER BY {MARTS[mart].preview_order} LIMIT {int(rows)}")


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
    return "\n".join(line for mart in MARTS.values() for line in column_docs(mart.name, mart.doc, mart.columns))
