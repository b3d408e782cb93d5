"""The sync's tables in the warehouse file, and the SQL that reads and writes them.

Created idempotently (``CREATE ... IF NOT EXISTS``) beside the ingestion tables, outside the warehouse's
versioned migrations (those belong to the ingestion schema). Every write here commits on its own (DuckDB
autocommit), right after the API call it records, so a job that dies halfway leaves the mappings of everything
it finished: the retry starts from there.

* `sync_map`: one row per mapped pair (kind, Wix id <-> external id) with each side's content hash and time at
  the last sync: the baseline that tells which side changed.
* `sync_contact_map` (view): Wix contact id <-> external author id, by email.
* `sync_entity_map`: Wix entityId <-> external productId, mirrored from the config.
* `sync_ledger`: every write the sync made (target, id, content hash, time); the event it causes on the other
  side is recognised as an echo. `intent` rows, written before a create, let a retried job adopt the record a
  lost answer left behind instead of creating a second one.
* `sync_conflicts`: both sides changed; the policy's winner, and the losing version kept whole.
* `sync_diffs`: every planned or applied operation of a run (a dry run writes only this), skips with their
  reason, echoes ignored.
* `sync_config`: the validated config in force for each run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import orjson

from wix_pipelines.external.contract import Kind

from .config import SyncConfig

DDL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS main.sync_map (
  kind VARCHAR NOT NULL,
  wix_id VARCHAR NOT NULL,
  external_id VARCHAR NOT NULL,
  match_key VARCHAR,
  wix_hash VARCHAR,
  external_hash VARCHAR,
  wix_updated VARCHAR,
  external_updated VARCHAR,
  synced_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (kind, wix_id)
)""",
    """CREATE OR REPLACE VIEW main.sync_contact_map AS
  SELECT wix_id AS wix_contact_id, external_id AS external_author_id, match_key AS email, synced_at
  FROM main.sync_map WHERE kind = 'contacts'""",
    """CREATE TABLE IF NOT EXISTS main.sync_entity_map (
  wix_entity_id VARCHAR PRIMARY KEY,
  external_entity_id VARCHAR NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL
)""",
    "CREATE SEQUENCE IF NOT EXISTS main.sync_ledger_seq",
    """CREATE TABLE IF NOT EXISTS main.sync_ledger (
  write_id BIGINT PRIMARY KEY DEFAULT nextval('main.sync_ledger_seq'),
  target VARCHAR NOT NULL,
  kind VARCHAR NOT NULL,
  record_id VARCHAR,
  source_id VARCHAR,
  op VARCHAR NOT NULL,
  status VARCHAR NOT NULL,
  content_hash VARCHAR,
  run_id VARCHAR,
  written_at TIMESTAMPTZ NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS main.sync_conflicts (
  kind VARCHAR NOT NULL,
  wix_id VARCHAR,
  external_id VARCHAR,
  policy VARCHAR NOT NULL,
  winner VARCHAR NOT NULL,
  reason VARCHAR,
  losing_version JSON,
  winning_version JSON,
  run_id VARCHAR,
  detected_at TIMESTAMPTZ NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS main.sync_diffs (
  run_id VARCHAR,
  kind VARCHAR NOT NULL,
  direction VARCHAR NOT NULL,
  op VARCHAR NOT NULL,
  wix_id VARCHAR,
  external_id VARCHAR,
  reason VARCHAR,
  payload JSON,
  dry_run BOOLEAN NOT NULL,
  recorded_at TIMESTAMPTZ NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS main.sync_config (
  run_id VARCHAR,
  config JSON NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL
)""",
)


def ensure_sync_tables(con: duckdb.DuckDBPyConnection) -> None:
    for ddl in DDL:
        con.execute(ddl)


@dataclass(frozen=True)
class Mapping:
    kind: Kind
    wix_id: str
    external_id: str
    match_key: str | None
    wix_hash: str | None
    external_hash: str | None
    wix_updated: str | None
    external_updated: str | None


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, default=str).decode()


class SyncStore:
    """The sync tables on one open warehouse connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> None:
        self.con = con
        self.run_id = run_id
        ensure_sync_tables(con)

    # ------------------------------------------------------------------------------------------- mappings

    def _one(self, where: str, params: list[Any]) -> Mapping | None:
        rows = self.con.execute(
            "SELECT kind, wix_id, external_id, match_key, wix_hash, external_hash, wix_updated, external_updated "
            f"FROM main.sync_map WHERE {where}",
            params,
        ).fetchall()
        return Mapping(*rows[0]) if rows else None

    def by_wix(self, kind: Kind, wix_id: str) -> Mapping | None:
        return self._one("kind = ? AND wix_id = ?", [kind, wix_id])

    def by_external(self, kind: Kind, external_id: str) -> Mapping | None:
        return self._one("kind = ? AND external_id = ?", [kind, external_id])

    def mappings(self, kind: Kind) -> list[Mapping]:
        rows = self.con.execute(
            "SELECT kind, wix_id, external_id, match_key, wix_hash, external_hash, wix_updated, external_updated "
            "FROM main.sync_map WHERE kind = ? ORDER BY wix_id",
            [kind],
        ).fetchall()
        return [Mapping(*r) for r in rows]

    def save(self, m: Mapping) -> None:
        # One statement per pair: a stale row for either id goes first, so an id is never mapped twice.
        self.con.execute("BEGIN")
        try:
            self.con.execute(
                "DELETE FROM main.sync_map WHERE kind = ? AND (wix_id = ? OR external_id = ?)",
                [m.kind, m.wix_id, m.external_id],
            )
            self.con.execute(
                "INSERT INTO main.sync_map VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
                [
                    m.kind,
                    m.wix_id,
                    m.external_id,
                    m.match_key,
                    m.wix_hash,
                    m.external_hash,
                    m.wix_updated,
                    m.external_updated,
                ],
            )
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def drop(self, kind: Kind, wix_id: str) -> None:
        self.con.execute("DELETE FROM main.sync_map WHERE kind = ? AND wix_id = ?", [kind, wix_id])

    # --------------------------------------------------------------------------------------------- ledger

    def intent(self, target: str, kind: Kind, source_id: str, op: str) -> None:
        """Before a create whose answer could be lost: which source record it is for."""
        self.con.execute(
            "INSERT INTO main.sync_ledger (target, kind, source_id, op, status, run_id, written_at) "
            "VALUES (?, ?, ?, ?, 'intent', ?, now())",
            [target, kind, source_id, op, self.run_id],
        )

    def has_intent(self, target: str, kind: Kind, source_id: str) -> bool:
        rows = self.con.execute(
            "SELECT count(*) FROM main.sync_ledger"
            " WHERE target = ? AND kind = ? AND source_id = ? AND status = 'intent'",
            [target, kind, source_id],
        ).fetchall()
        return bool(rows[0][0])

    def record_write(
        self, target: str, kind: Kind, record_id: str, op: str, content_hash: str | None, source_id: str | None
    ) -> None:
        if source_id is not None:
            self.con.execute(
                "UPDATE main.sync_ledger SET status = 'resolved' WHERE status = 'intent' AND target = ? AND kind = ?"
                " AND source_id = ?",
                [target, kind, source_id],
            )
        self.con.execute(
            "INSERT INTO main.sync_ledger (target, kind, record_id, source_id, op, status, content_hash, run_id,"
            " written_at) VALUES (?, ?, ?, ?, ?, 'done', ?, ?, now())",
            [target, kind, record_id, source_id, op, content_hash, self.run_id],
        )

    def last_write(self, target: str, kind: Kind, record_id: str) -> tuple[str, str | None, datetime] | None:
        rows = self.con.execute(
            "SELECT op, content_hash, written_at FROM main.sync_ledger WHERE target = ? AND kind = ? AND record_id = ?"
            " AND status = 'done' ORDER BY write_id DESC LIMIT 1",
            [target, kind, record_id],
        ).fetchall()
        return rows[0] if rows else None

    # ------------------------------------------------------------------------------------ diffs, conflicts

    def diff(
        self,
        kind: Kind,
        direction: str,
        op: str,
        *,
        wix_id: str | None,
        external_id: str | None,
        reason: str | None = None,
        payload: Any = None,
        dry_run: bool = False,
    ) -> None:
        self.con.execute(
            "INSERT INTO main.sync_diffs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
            [self.run_id, kind, direction, op, wix_id, external_id, reason, _json(payload), dry_run],
        )

    def conflict(
        self,
        kind: Kind,
        wix_id: str | None,
        external_id: str | None,
        *,
        policy: str,
        winner: str,
        reason: str,
        losing: Any,
        winning: Any,
    ) -> None:
        self.con.execute(
            "INSERT INTO main.sync_conflicts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
            [kind, wix_id, external_id, policy, winner, reason, _json(losing), _json(winning), self.run_id],
        )

    # ------------------------------------------------------------------------------------------- config

    def apply_config(self, config: SyncConfig) -> None:
        """Record the config in force and load its entity mapping (the table mirrors the file)."""
        self.con.execute("INSERT INTO main.sync_config VALUES (?, ?, now())", [self.run_id, config.model_dump_json()])
        self.con.execute("BEGIN")
        try:
            self.con.execute("DELETE FROM main.sync_entity_map")
            for wix_id, ext_id in sorted(config.entities.items()):
                self.con.execute("INSERT INTO main.sync_entity_map VALUES (?, ?, now())", [wix_id, ext_id])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
