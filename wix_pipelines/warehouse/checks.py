"""Data-quality checks on the raw tables, as SQL: each returns how many rows break the rule and a few examples.

The Dagster asset checks in `wix_pipelines.defs.ingest` run these on the connection that just wrote the table.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class QualityRule:
    name: str
    table: str
    description: str
    violations_sql: str  # selects the offending rows' ids (one column)
    blocking: bool = True  # False: a warning, the data is still usable


def _rules() -> tuple[QualityRule, ...]:
    rules: list[QualityRule] = []
    for table in ("contacts", "reviews", "ratings", "review_requests"):
        rules.append(
            QualityRule(
                "unique_ids",
                table,
                "Every id appears once.",
                # Grouped by hash(id) first (8-byte keys), then only the ids whose hash repeats: at 1M contacts
                # ~50 MB less memory and half the time of grouping the ids' text. Computed here, not the stored
                # `_id_hash`: the check must not trust what the loaders wrote.
                f"SELECT id FROM main.{table} WHERE hash(id) IN "
                f"(SELECT hash(id) FROM main.{table} GROUP BY ALL HAVING count(*) > 1) GROUP BY id HAVING count(*) > 1",
            )
        )
        rules.append(
            QualityRule(
                "created_date_not_null",
                table,
                "Every live record has a createdDate.",
                f"SELECT id FROM main.{table} WHERE created_date IS NULL AND deleted_at IS NULL",
            )
        )
    rules.append(
        QualityRule(
            "rating_in_range",
            "reviews",
            "Review ratings are whole stars from 1 to 5.",
            "SELECT id FROM main.reviews WHERE deleted_at IS NULL AND (rating IS NULL OR rating NOT BETWEEN 1 AND 5)",
        )
    )
    rules.append(
        QualityRule(
            "value_in_range",
            "ratings",
            "Rating values are from 1 to 5 (the Ratings API allows 0-100; our sites use stars).",
            "SELECT id FROM main.ratings WHERE deleted_at IS NULL AND (value IS NULL OR value NOT BETWEEN 1 AND 5)",
            blocking=False,
        )
    )
    rules.append(
        QualityRule(
            "author_contact_known",
            "reviews",
            "Review authors are contacts we have loaded (a miss usually means contacts are behind).",
            "SELECT r.id FROM main.reviews r WHERE r.deleted_at IS NULL AND r.author_contact_id IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM main.contacts c WHERE c.id = r.author_contact_id)",
            blocking=False,
        )
    )
    return tuple(rules)


QUALITY_RULES: tuple[QualityRule, ...] = _rules()


def rules_for(table: str) -> list[QualityRule]:
    return [rule for rule in QUALITY_RULES if rule.table == table]


def evaluate(con: duckdb.DuckDBPyConnection, rule: QualityRule, examples: int = 5) -> tuple[int, list[str]]:
    """(number of violating rows, up to `examples` of their ids)."""
    count, sample = con.execute(
        f"SELECT count(*), list(id ORDER BY id)[1:{int(examples)}] FROM ({rule.violations_sql}) v(id)"
    ).fetchall()[0]
    return int(count), [str(value) for value in (sample or [])]
