"""Run-metadata summaries: markdown previews built without pandas."""

from __future__ import annotations

import subprocess
import sys

import duckdb

from wix_pipelines.warehouse.summary import query_markdown


def test_query_markdown_escapes_cells_and_reports_empty() -> None:
    con = duckdb.connect()
    text = query_markdown(
        con, "SELECT 1 AS n, NULL AS missing, 'a|b' AS piped, 'line\nbreak' AS multi, repeat('x', 100) AS long"
    )
    header, rule, row = text.splitlines()
    assert header == "| n | missing | piped | multi | long |"
    assert rule == "|---|---|---|---|---|"
    cells = [c.strip() for c in row.strip("|").split(" | ")]
    assert cells[:4] == ["1", "", "a\\|b", "line break"]
    assert len(cells[4]) == 60 and cells[4].endswith("…")
    assert query_markdown(con, "SELECT 1 AS n WHERE false") == "(empty)"


def test_previewing_a_table_does_not_load_pandas() -> None:
    # pandas + pyarrow cost ~100 MB of peak memory in every pull that only wanted a five-row preview.
    code = (
        "import sys, duckdb\n"
        "from wix_pipelines.warehouse.summary import preview_markdown\n"
        "con = duckdb.connect()\n"
        "con.execute('CREATE TABLE t (id VARCHAR, created_date TIMESTAMPTZ, record JSON, _record_hash UBIGINT)')\n"
        "con.execute(\"INSERT INTO t VALUES ('a', now(), '{}', 1)\")\n"
        "assert preview_markdown(con, 't').count('\\n') == 2\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "False"
