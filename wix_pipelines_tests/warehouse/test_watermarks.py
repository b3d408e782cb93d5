from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wix_pipelines.warehouse import ADVANCE_TO_MAX_CREATED, Warehouse, upserts

from .fakes import contact, page


def _count(warehouse: Warehouse, sql: str) -> int:
    with warehouse.connect() as con:
        return int(con.execute(sql).fetchall()[0][0])


def test_watermark_and_load_log_commit_with_the_rows(warehouse: Warehouse) -> None:
    result = warehouse.upsert_batch(
        "contacts", page("contacts", [contact(0)]), watermark="2024-01-01T00:00:00Z",
        watermark_details={"updated_since": "x"}, run_id="run-1",
    )  # fmt: skip
    mark = warehouse.get_watermark("contacts")
    assert mark is not None
    assert (mark.value, mark.details) == ("2024-01-01T00:00:00Z", {"updated_since": "x"})
    assert (result.watermark_before, result.watermark_after) == (None, "2024-01-01T00:00:00Z")
    with warehouse.connect() as con:
        log = con.execute(
            "SELECT stream, operation, run_id, pages, fetched, inserted, watermark_before, watermark_after "
            "FROM _load_log"
        ).fetchall()
    assert log == [("contacts", "upsert", "run-1", 1, 1, 1, None, "2024-01-01T00:00:00Z")]


def test_failure_mid_batch_rolls_back_rows_and_watermark(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse.upsert_batch("contacts", page("contacts", [contact(0)]), watermark="w1")

    def boom(*args: object, **kwargs: object) -> int:
        raise RuntimeError("injected failure after rows and watermark were written")

    # write_load_log runs after the rows and the watermark are written, just before COMMIT.
    monkeypatch.setattr(upserts, "write_load_log", boom)
    with pytest.raises(RuntimeError, match="injected"):
        warehouse.upsert_batch("contacts", page("contacts", [contact(1), contact(2)]), watermark="w2")
    monkeypatch.undo()

    mark = warehouse.get_watermark("contacts")
    assert mark is not None and mark.value == "w1"
    assert _count(warehouse, "SELECT count(*) FROM contacts") == 1
    assert _count(warehouse, "SELECT count(*) FROM _load_log") == 1
    # The connection-level rollback left nothing behind: the same batch now goes through.
    again = warehouse.upsert_batch("contacts", page("contacts", [contact(1), contact(2)]), watermark="w2")
    assert again.inserted == 2


def test_advance_to_max_created_never_moves_back(warehouse: Warehouse) -> None:
    late = contact(100)  # created later than contact(1)
    r1 = warehouse.upsert_batch("contacts", page("contacts", [late]), watermark=ADVANCE_TO_MAX_CREATED)
    assert r1.watermark_after is not None
    assert datetime.fromisoformat(r1.watermark_after) == datetime.fromisoformat(
        late["createdDate"].replace("Z", "+00:00")
    )
    r2 = warehouse.upsert_batch("contacts", page("contacts", [contact(1)]), watermark=ADVANCE_TO_MAX_CREATED)
    assert r2.watermark_after == r1.watermark_after
    r3 = warehouse.upsert_batch("contacts", [], watermark=ADVANCE_TO_MAX_CREATED, watermark_details={"k": 1})
    mark = warehouse.get_watermark("contacts")
    assert mark is not None and (mark.value, mark.details) == (r1.watermark_after, {"k": 1})
    assert r3.fetched == 0


def test_max_created_date_of_a_table(warehouse: Warehouse) -> None:
    assert warehouse.max_created_date("contacts") is None
    warehouse.upsert_batch("contacts", page("contacts", [contact(3), contact(9), contact(5)]))
    assert warehouse.max_created_date("contacts") == datetime.fromisoformat(
        contact(9)["createdDate"].replace("Z", "+00:00")
    ).astimezone(UTC)


def test_process_killed_mid_batch_resumes_from_last_committed_batch(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    code = textwrap.dedent(
        f"""
        import os, signal
        from wix_pipelines.warehouse import Warehouse, upserts
        from wix_pipelines_tests.warehouse.fakes import contact, page
        wh = Warehouse({str(path)!r})
        with wh.connect() as con:
            first = page("contacts", [contact(i) for i in range(10)])
            upserts.upsert_batch(con, "contacts", first, watermark="b1")
            # SIGKILL after the second batch's rows are written, before its COMMIT.
            upserts.write_load_log = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
            upserts.upsert_batch(con, "contacts", page("contacts", [contact(i) for i in range(10, 20)]),
                                 watermark="b2")
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-c", code], env=env, timeout=120)
    assert proc.returncode == -signal.SIGKILL

    warehouse = Warehouse(path)
    mark = warehouse.get_watermark("contacts")
    assert mark is not None and mark.value == "b1"
    assert warehouse.row_counts()["contacts"] == 10
    # Re-running both batches loses and duplicates nothing.
    warehouse.upsert_batch("contacts", page("contacts", [contact(i) for i in range(10)]), watermark="b1")
    warehouse.upsert_batch("contacts", page("contacts", [contact(i) for i in range(10, 20)]), watermark="b2")
    with warehouse.connect() as con:
        assert con.execute("SELECT count(*), count(DISTINCT id) FROM contacts").fetchall() == [(20, 20)]
