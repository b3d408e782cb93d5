"""Delivery bookkeeping for low-rating alerts: which alert reached which channel, and every failed attempt.

One row per (alert, channel). An alert is a review id in `low_rating_alerts`; it is pending on a channel until
its row there says `delivered`. Each outcome is committed on its own, right after the channel answered, so a
run that dies mid-way keeps what it delivered and the next run carries on from there.

The table lives in the warehouse next to the marts (and so reaches the analysts' snapshot too), created with
`CREATE TABLE IF NOT EXISTS` by whoever touches it first; it is bookkeeping, not an API stream, so it stays
out of the raw tables' schema migrations.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import duckdb

from .transaction import transaction

LEDGER_DDL = """CREATE TABLE IF NOT EXISTS main._alert_deliveries (
  alert_id VARCHAR NOT NULL,
  channel VARCHAR NOT NULL,
  status VARCHAR NOT NULL,            -- delivered | failed (failed = still pending, retried next time)
  attempts INTEGER NOT NULL,
  first_attempt_at TIMESTAMPTZ NOT NULL,
  last_attempt_at TIMESTAMPTZ NOT NULL,
  delivered_at TIMESTAMPTZ,
  last_error VARCHAR,
  run_id VARCHAR,
  PRIMARY KEY (alert_id, channel)
)"""


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(LEDGER_DDL)


def alerts_table_exists(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name = 'low_rating_alerts'"
        ).fetchall()[0][0]
    )


def pending_alerts(
    con: duckdb.DuckDBPyConnection, channel: str, *, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Alerts of `low_rating_alerts` not yet delivered on `channel`, oldest review first.

    `since` leaves out reviews created before it (set it when switching alerts on for a site with a long
    history, so the owner is not flooded with years-old reviews).
    """
    cursor = con.execute(
        """
        SELECT a.*, coalesce(d.attempts, 0) AS previous_attempts
        FROM main.low_rating_alerts a
        LEFT JOIN main._alert_deliveries d ON d.alert_id = a.review_id AND d.channel = $channel
        WHERE coalesce(d.status, '') <> 'delivered' AND ($since IS NULL OR a.created_date >= $since)
        ORDER BY a.created_date, a.review_id
        """,
        {"channel": channel, "since": since},
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _record(
    con: duckdb.DuckDBPyConnection,
    alert_id: str,
    channel: str,
    *,
    delivered: bool,
    error: str | None,
    run_id: str | None,
    count_attempt: bool = True,
) -> None:
    status = "delivered" if delivered else "failed"
    increment = 1 if count_attempt else 0
    with transaction(con):
        con.execute(
            f"""
            INSERT INTO main._alert_deliveries
            VALUES ($alert_id, $channel, $status, {increment}, now(), now(),
                    CASE WHEN $delivered THEN now() END, $error, $run_id)
            ON CONFLICT (alert_id, channel) DO UPDATE SET
              status = excluded.status,
              attempts = _alert_deliveries.attempts + {increment},
              last_attempt_at = excluded.last_attempt_at,
              delivered_at = excluded.delivered_at,
              last_error = excluded.last_error,
              run_id = excluded.run_id
            """,
            {
                "alert_id": alert_id,
                "channel": channel,
                "status": status,
                "delivered": delivered,
                "error": error,
                "run_id": run_id,
            },
        )


def record_delivered(con: duckdb.DuckDBPyConnection, alert_id: str, channel: str, *, run_id: str | None = None) -> None:
    _record(con, alert_id, channel, delivered=True, error=None, run_id=run_id)


def record_failed(
    con: duckdb.DuckDBPyConnection, alert_id: str, channel: str, error: str, *, run_id: str | None = None
) -> None:
    _record(con, alert_id, channel, delivered=False, error=error, run_id=run_id)


def record_recovered(
    con: duckdb.DuckDBPyConnection, alert_ids: Iterable[str], channel: str, *, run_id: str | None = None
) -> int:
    """Mark alerts found already delivered by the channel itself (e.g. lines in the outbox written just before
    a crash, whose ledger commit never happened). Returns how many rows changed."""
    ids = sorted(set(alert_ids))
    if not ids:
        return 0
    already = {
        row[0]
        for row in con.execute(
            "SELECT alert_id FROM main._alert_deliveries WHERE channel = ? AND status = 'delivered' "
            "AND alert_id IN (SELECT unnest(?::VARCHAR[]))",
            [channel, ids],
        ).fetchall()
    }
    missing = [i for i in ids if i not in already]
    for alert_id in missing:
        _record(con, alert_id, channel, delivered=True, error=None, run_id=run_id, count_attempt=False)
    return len(missing)


def delivery_counts(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """channel -> {status: rows}, for run metadata."""
    out: dict[str, dict[str, int]] = {}
    for channel, status, n in con.execute(
        "SELECT channel, status, count(*) FROM main._alert_deliveries GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        out.setdefault(channel, {})[status] = int(n)
    return out
