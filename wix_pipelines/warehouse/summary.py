"""Small read-only summaries of warehouse tables: for run metadata, the demo and the CLI."""

from __future__ import annotations

from pathlib import Path

import duckdb


def live_row_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Rows not marked deleted."""
    return int(con.execute(f"SELECT count(*) FROM main.{table} WHERE deleted_at IS NULL").fetchall()[0][0])


def preview_markdown(con: duckdb.DuckDBPyConnection, table: str, rows: int = 5) -> str:
    """The newest rows without the raw JSON, as a markdown table (for the Dagster UI)."""
    frame = con.execute(
        f"SELECT * EXCLUDE (record, _record_hash) FROM main.{table} ORDER BY created_date DESC LIMIT {int(rows)}"
    ).df()
    return frame.to_markdown(index=False) if len(frame) else "(empty)"


def table_counts(database: Path) -> dict[str, int]:
    """Rows per table of a DuckDB file, opened read-only; {} when the file does not exist yet."""
    if not database.exists():
        return {}
    with duckdb.connect(str(database), read_only=True) as con:
        names = [row[0] for row in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        return {name: int(con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]) for name in names}
