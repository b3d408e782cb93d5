"""Small read-only summaries of warehouse tables: for run metadata, the demo and the CLI."""

from __future__ import annotations

from pathlib import Path

import duckdb


def live_row_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Rows not marked deleted."""
    return int(con.execute(f"SELECT count(*) FROM main.{table} WHERE deleted_at IS NULL").fetchall()[0][0])


def preview_markdown(con: duckdb.DuckDBPyConnection, table: str, rows: int = 5) -> str:
    """The newest rows without the raw JSON, as a markdown table (for the Dagster UI)."""
    return query_markdown(
        con, f"SELECT * EXCLUDE (record, _record_hash) FROM main.{table} ORDER BY created_date DESC LIMIT {int(rows)}"
    )


def query_markdown(con: duckdb.DuckDBPyConnection, sql: str, max_cell: int = 60) -> str:
    """A query's rows as a markdown table; "(empty)" when there are none.

    Built from the rows directly rather than through pandas: loading pandas and pyarrow for a five-row preview
    added about 100 MB to the peak memory of every pull.
    """
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description or ()]
    rows = cursor.fetchall()
    if not rows:
        return "(empty)"

    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= max_cell else text[: max_cell - 1] + "…"

    lines = ["| " + " | ".join(names) + " |", "|" + "|".join("---" for _ in names) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def table_counts(database: Path) -> dict[str, int]:
    """Rows per table of a DuckDB file, opened read-only; {} when the file does not exist yet."""
    if not database.exists():
        return {}
    with duckdb.connect(str(database), read_only=True) as con:
        names = [row[0] for row in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        return {name: int(con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]) for name in names}
