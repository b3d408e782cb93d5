"""The initial setup (seed flow "Part 1"): mappings by natural key, the ``externalCrmId`` field, and the first
reconciliation against a chosen system of record — rehearsed with a dry run that lists what would be deleted.

    report = initial_setup(SyncEngine(..., dry_run=True), "wix")     # writes only sync_diffs
    print(deletions(con, run_id))                                      # warn the user: these would go
    report = initial_setup(SyncEngine(..., dry_run=False), "wix")    # then do it

With the system of record ``"wix"``, external records with no Wix counterpart are deleted and Wix records with
none are created externally; with ``"external"`` the reverse, except that Wix contacts of site members are
never deleted (Wix refuses it; they are listed as skipped). Records found on both sides are linked and take
the system of record's content.
"""

from __future__ import annotations

from typing import Any

import duckdb

from .config import Side
from .engine import SyncEngine, SyncReport


def initial_setup(engine: SyncEngine, system_of_record: Side) -> SyncReport:
    other: Side = "external" if system_of_record == "wix" else "wix"
    original = engine.config
    engine.config = original.model_copy(
        update={"system_of_record": system_of_record, "conflict_policy": "system_of_record"}
    )
    try:
        engine._external_id_key()  # find-or-create the externalCrmId field first (a dry run only looks it up)
        return engine.reconcile_all(origin="setup", delete_unmatched_on=other)
    finally:
        engine.config = original


def deletions(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict[str, Any]]:
    """What a run deleted (or, for a dry run, would delete): kind, side, ids."""
    rows = con.execute(
        "SELECT kind, direction, wix_id, external_id FROM main.sync_diffs WHERE run_id = ? AND op = 'delete'"
        " ORDER BY kind, wix_id, external_id",
        [run_id],
    ).fetchall()
    return [
        {"kind": k, "side": "wix" if d == "external->wix" else "external", "wix_id": w, "external_id": e}
        for k, d, w, e in rows
    ]


def diff_markdown(con: duckdb.DuckDBPyConnection, run_id: str, limit: int = 50) -> str:
    """The run's diff as a markdown table (run metadata in the Dagster UI)."""
    rows = con.execute(
        "SELECT kind, direction, op, coalesce(wix_id, ''), coalesce(external_id, ''), coalesce(reason, ''), dry_run"
        " FROM main.sync_diffs WHERE run_id = ? ORDER BY recorded_at LIMIT ?",
        [run_id, limit],
    ).fetchall()
    total = con.execute("SELECT count(*) FROM main.sync_diffs WHERE run_id = ?", [run_id]).fetchall()[0][0]
    if not rows:
        return "_no differences_"
    lines = ["| kind | direction | op | wix id | external id | reason | dry run |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append("| " + " | ".join(str(v).replace("|", "/") for v in row) + " |")
    if total > limit:
        lines.append(f"\n_{total - limit} more rows in `sync_diffs` (run {run_id})_")
    return "\n".join(lines)
