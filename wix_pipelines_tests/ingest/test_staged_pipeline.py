"""The pull's pipeline (fetch thread, staging thread, caller applying) on a real DuckDB file, with pages made here:
order, errors raised on the staging thread, and commits that still checkpoint while the next batch is shaped."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import orjson
import pytest

from wix_pipelines.ingest.pull import PullOptions, _batches, _staged_batches, _tune
from wix_pipelines.warehouse import MalformedPageError, Warehouse, apply_staged
from wix_pipelines.wix.paging import Page
from wix_pipelines_tests.warehouse.fakes import contact
from wix_pipelines_tests.warehouse.fakes import page as page_body


def _page(records: list[dict]) -> Page:
    return Page(items=[{"id": r["id"]} for r in records], raw=orjson.dumps({"contacts": records}), request_id=None)


def _keyset_pages(pages: int, per_page: int) -> Iterator[Page]:
    """Each page after the first repeats the previous page's last record, as a keyset page's anchor does."""
    for p in range(pages):
        first = p * per_page
        yield _page([contact(i) for i in range(max(first - 1, 0), first + per_page)])


def _pipeline_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("wix-")]


@pytest.mark.parametrize("ahead", [1, 0], ids=["shaped on a thread", "shaped on the caller's thread"])
def test_batches_are_applied_in_order_and_each_record_lands_once(tmp_path: Path, ahead: int) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    options = PullOptions(records_per_batch=1000, staged_batches_ahead=ahead)
    applied = []
    with warehouse.connect() as con, _staged_batches("contacts", _keyset_pages(12, 300), options) as batches:
        _tune(con, options)
        for pages, end_of_pass, staged in batches:
            applied.append((pages, end_of_pass, apply_staged(con, staged, run_id="t")))
    # The first batch is a fifth of a batch (one page here), then four pages of 300 (one record repeated per page).
    assert [n for n, _, _ in applied] == [1, 4, 4, 3]
    assert [end for _, end, _ in applied] == [False, False, False, True]
    assert sum(r.inserted for _, _, r in applied) == 3600
    # An anchor inside a batch is a duplicate; an anchor at a batch's start was inserted by the batch before.
    assert sum(r.duplicates for _, _, r in applied) == 8
    assert sum(r.unchanged for _, _, r in applied) == 3
    with warehouse.connect(read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT id) FROM contacts").fetchall() == [(3600, 3600)]
        load_ids = [r[0] for r in con.execute("SELECT load_id FROM _load_log ORDER BY load_id").fetchall()]
    assert load_ids == sorted(r.load_id for _, _, r in applied)
    assert _pipeline_threads() == []


def test_a_malformed_page_fails_its_batch_after_earlier_batches_committed_and_stops_the_threads(
    tmp_path: Path,
) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    pages = [_page([contact(i) for i in range(p * 100, p * 100 + 100)]) for p in range(8)]
    pages[4] = Page(items=[{"id": "x"}], raw=b'{"contacts": [{"id": "x", "createdDate": ', request_id=None)
    options = PullOptions(records_per_batch=100)  # one page per batch
    committed = 0
    with warehouse.connect() as con:
        with (
            pytest.raises(MalformedPageError, match=r"page\(s\) \[0\] are not valid JSON"),
            _staged_batches("contacts", iter(pages), options) as batches,
        ):
            for _, _, staged in batches:
                committed += apply_staged(con, staged).inserted
        assert committed == 400
        assert con.execute("SELECT count(*) FROM contacts").fetchall() == [(400,)]
    assert _pipeline_threads() == []


def test_commits_checkpoint_while_the_next_batch_is_being_shaped(tmp_path: Path) -> None:
    """Shaping runs on a DuckDB instance of its own: were it a cursor of the warehouse's, its open statement
    would make DuckDB skip the checkpoint at each commit, and the WAL (and the memory) would grow all load long."""
    warehouse = Warehouse(tmp_path / "w.duckdb")
    wal = Path(str(warehouse.path) + ".wal")
    options = PullOptions(records_per_batch=1000, duckdb_checkpoint_threshold="1MB")
    largest_wal = 0
    with warehouse.connect() as con, _staged_batches("contacts", _keyset_pages(20, 500), options) as batches:
        _tune(con, options)
        for _, _, staged in batches:
            apply_staged(con, staged)
            largest_wal = max(largest_wal, wal.stat().st_size if wal.exists() else 0)
    # One batch of 1,000 contacts writes ~2 MB of WAL; ten of them pile up ~20 MB when checkpoints are skipped.
    assert largest_wal < 4_000_000


def test_staging_and_applying_leave_pandas_unloaded(tmp_path: Path) -> None:
    """pyarrow's `pa.array(list)` imports pandas on first use (0.3 s, and ~60 MB in every pull's process)."""
    code = textwrap.dedent(
        f"""
        import sys
        from wix_pipelines.warehouse import StagingArea, Warehouse, apply_staged
        from wix_pipelines_tests.warehouse.fakes import contact, page
        staging = StagingArea()
        staged = staging.stage("contacts", [page("contacts", [contact(i) for i in range(5)])])
        with Warehouse({str(tmp_path / "w.duckdb")!r}).connect() as con:
            assert apply_staged(con, staged).inserted == 5
        staging.close()
        print("pandas" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(("quick_start", "sizes"), [(True, [1, 4, 4, 3]), (False, [4, 4, 4])])
def test_only_a_full_pass_starts_with_a_short_batch(quick_start: bool, sizes: list[int]) -> None:
    """A full pass starts DuckDB on a fifth of a batch while the rest is fetched; an incremental pass, mostly shorter
    than one batch, would only pay a second batch's fixed cost for it."""
    batches = list(_batches(_keyset_pages(12, 300), 1000, quick_start=quick_start))
    assert [len(pages) for pages, _ in batches] == sizes
    assert [end for _, end in batches] == [False] * (len(sizes) - 1) + [True]


def test_staging_areas_share_one_instance_but_not_their_tables() -> None:
    """Pulls in one process stage on one DuckDB instance (opening one per pull was a fixed cost of every
    incremental); each area is a cursor with temp tables of its own, so concurrent pulls cannot see each
    other's batches, and closing one area leaves the others working."""
    from wix_pipelines.warehouse import StagingArea

    first, second = StagingArea(), StagingArea()
    results: dict[str, int] = {}

    def stage(area: StagingArea, name: str, ids: range) -> None:
        for _ in range(5):
            results[name] = area.stage("contacts", [page_body("contacts", [contact(i) for i in ids])]).valid

    threads = [
        threading.Thread(target=stage, args=(first, "first", range(0, 300))),
        threading.Thread(target=stage, args=(second, "second", range(1000, 1700))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {"first": 300, "second": 700}
    first.close()
    staged = second.stage("contacts", [page_body("contacts", [contact(i) for i in range(5)])])
    assert staged.valid == 5 and staged.rows is not None
    assert sorted(staged.rows.column("id").to_pylist()) == sorted(contact(i)["id"] for i in range(5))
    second.close()


def test_cached_blocks_are_dropped_and_the_memory_limit_is_the_working_memory(tmp_path: Path) -> None:
    """DuckDB keeps the blocks it wrote or read until memory runs short (~100 MB of a 1M-contact table by the end of
    a full load): they are evicted, also while the pull's next transaction is already open, and the limit is back
    at the working memory afterwards."""
    from wix_pipelines.ingest.pull import _drop_cached_blocks
    from wix_pipelines.warehouse import StagingArea

    def base_table_bytes(con: object) -> int:
        rows = con.execute(  # type: ignore[attr-defined]
            "SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() WHERE tag = 'BASE_TABLE'"
        ).fetchall()
        return int(rows[0][0])

    def limit_text(limit: int) -> str:
        """How DuckDB shows `limit` bytes (it rounds to a unit)."""
        with duckdb.connect() as scratch:
            scratch.execute(f"SET memory_limit = '{limit}B'")
            return str(scratch.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])

    warehouse = Warehouse(tmp_path / "w.duckdb")
    staging = StagingArea()
    options = PullOptions(duckdb_working_memory_mb=64)
    with warehouse.connect() as con:
        _tune(con, options)
        assert con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] == limit_text(64 * 2**20)
        pages = [page_body("contacts", [contact(i) for i in range(k, k + 1000)]) for k in range(0, 20_000, 1000)]
        apply_staged(con, staging.stage("contacts", pages))
        con.execute("SELECT max(length(record)), max(primary_email) FROM contacts").fetchall()
        cached = base_table_bytes(con)
        con.execute("BEGIN TRANSACTION")
        con.execute("UPDATE contacts SET job_title = 'kept' WHERE id = ?", [contact(1)["id"]])

        _drop_cached_blocks(con, options)

        # One 256 KB block stays: the open transaction's update holds it.
        assert base_table_bytes(con) <= 262_144 < cached // 10
        assert con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] == limit_text(64 * 2**20)
        con.execute("COMMIT")
        assert con.execute("SELECT job_title FROM contacts WHERE id = ?", [contact(1)["id"]]).fetchall() == [("kept",)]
    staging.close()


def test_an_error_while_applying_surfaces_as_itself_and_stops_the_threads() -> None:
    """An error on the applying side (DuckDB out of memory, a full disk) while the staging thread is still reading
    pages must reach the caller as raised, not as the generator error of closing a feed that thread is inside."""
    options = PullOptions(records_per_batch=300)

    def slow_pages() -> Iterator[Page]:
        for page in _keyset_pages(10, 300):
            time.sleep(0.2)
            yield page

    with (
        pytest.raises(RuntimeError, match="applying failed"),
        _staged_batches("contacts", slow_pages(), options) as batches,
    ):
        for _ in batches:
            raise RuntimeError("applying failed")
    assert _pipeline_threads() == []
