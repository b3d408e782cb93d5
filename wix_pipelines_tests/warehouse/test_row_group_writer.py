"""`RowGroupWriter`: a pull's staged batches committed in transactions of whole row groups, on a real DuckDB file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from wix_pipelines.warehouse import (
    ADVANCE_TO_MAX_CREATED,
    IdReconciler,
    RowGroupWriter,
    StagingArea,
    UpsertResult,
    Warehouse,
    get_watermark,
)
from wix_pipelines.warehouse.tables import ROW_GROUP_SIZE
from wix_pipelines_tests.warehouse.fakes import BASE_TIME, contact, page

PER_BATCH = 5000


@pytest.fixture
def staging() -> StagingArea:
    area = StagingArea()
    yield area
    area.close()


def _batch_pages(first: int, count: int, *, per_page: int = 1000) -> list[bytes]:
    """Keyset-style pages: each repeats the record before it, as a keyset page's anchor does."""
    return [
        page("contacts", [contact(i) for i in range(max(start - 1, 0), min(start + per_page, first + count))])
        for start in range(first, first + count, per_page)
    ]


def _wal_bytes(warehouse: Warehouse) -> int:
    wal = Path(str(warehouse.path) + ".wal")
    return wal.stat().st_size if wal.exists() else 0


def test_a_full_load_commits_whole_row_groups_straight_to_the_file(tmp_path: Path, staging: StagingArea) -> None:
    """40,000 contacts in batches of 5,000: commits of exactly 16,384 new rows (DuckDB then writes them to the file
    as compressed row groups, not to the WAL), then the rest at the end; every record once."""
    warehouse = Warehouse(tmp_path / "w.duckdb")
    total = 40_000
    commits: list[list[UpsertResult]] = []
    wal_after_commit: list[int] = []
    with warehouse.connect() as con, RowGroupWriter(con, watermark=ADVANCE_TO_MAX_CREATED) as writer:
        for first in range(0, total, PER_BATCH):
            staged = staging.stage("contacts", _batch_pages(first, PER_BATCH))
            committed = writer.write(staged, last=first + PER_BATCH >= total)
            if committed:
                commits.append(committed)
                wal_after_commit.append(_wal_bytes(warehouse))
        assert writer.commits == 3
        assert [sum(r.inserted for r in c) for c in commits] == [ROW_GROUP_SIZE, ROW_GROUP_SIZE, 40_000 - 32_768]
        # ~33 MB of rows went into those two transactions; through the WAL they would all have been written there.
        assert max(wal_after_commit[:2]) < 1_000_000
        assert con.execute("SELECT count(*), count(DISTINCT id) FROM contacts").fetchall() == [(total, total)]
        row_groups = con.execute(
            "SELECT row_group_id, count FROM pragma_storage_info('contacts') WHERE column_name = 'id' "
            "AND segment_type <> 'VALIDITY' ORDER BY row_group_id"
        ).fetchall()
    sizes: dict[int, int] = {}
    for group, count in row_groups:
        sizes[group] = sizes.get(group, 0) + count
    assert list(sizes.values())[:2] == [ROW_GROUP_SIZE, ROW_GROUP_SIZE]


def test_a_split_batch_moves_the_watermark_only_past_committed_rows(tmp_path: Path, staging: StagingArea) -> None:
    """A batch that fills the row group is split: its head commits, its rest waits for the next transaction. The
    watermark committed with the head must not pass the earliest record still waiting (a crash there re-reads it)."""
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with warehouse.connect() as con:
        writer = RowGroupWriter(con, watermark=ADVANCE_TO_MAX_CREATED, rows_per_commit=3000)
        assert writer.write(staging.stage("contacts", _batch_pages(0, 2000))) == []
        committed = writer.write(staging.stage("contacts", _batch_pages(2000, 2000)))
        # 2,000 + the anchor repeated (unchanged) + 1,000 of the second batch; the anchor fills one more row.
        assert sum(r.inserted for r in committed) == 3000
        assert sum(r.unchanged for r in committed) == 1
        # This transaction sees its own rows, the next one's; another connection sees what was committed.
        assert con.execute("SELECT count(*) FROM contacts").fetchall() == [(4000,)]
        other = con.cursor()
        other.execute("USE warehouse")
        assert other.execute("SELECT count(*) FROM contacts").fetchall() == [(3000,)]
        newest_committed = other.execute("SELECT max(created_date) FROM contacts").fetchall()[0][0]
        watermark = get_watermark(other, "contacts")
        other.close()
        assert watermark is not None and watermark.value == newest_committed.isoformat()
        assert sum(r.inserted for r in writer.write(staging.stage("contacts", []), last=True)) == 1000  # the rest
    with warehouse.connect(read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT id) FROM contacts").fetchall() == [(4000, 4000)]
        last = get_watermark(con, "contacts")
        assert (
            last is not None and last.value == (BASE_TIME + timedelta(seconds=37 * 3999, milliseconds=999)).isoformat()
        )


def test_a_stored_copy_created_before_the_part_is_found_and_updated_not_doubled(
    tmp_path: Path, staging: StagingArea
) -> None:
    """The tables have no primary key, so the lookup by id is all that keeps ids unique: a record whose stored copy
    has another createdDate (before every row of its part, so zone maps on createdDate would skip that copy) is
    updated, in a transaction that already holds another part; nothing is lost or doubled, no live id is missing."""
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with warehouse.connect() as con:
        with RowGroupWriter(con, watermark=ADVANCE_TO_MAX_CREATED) as writer:
            writer.write(staging.stage("contacts", _batch_pages(0, 100)), last=True)
        live = IdReconciler(con, "contacts")
        moved = contact(5, created=BASE_TIME + timedelta(days=400))
        seen: list[int] = []

        def collect(part: object) -> None:
            live.add(part.record_ids)  # type: ignore[attr-defined]
            seen.append(part.valid)  # type: ignore[attr-defined]

        with RowGroupWriter(con, watermark=ADVANCE_TO_MAX_CREATED, on_apply=collect) as writer:
            writer.write(staging.stage("contacts", [page("contacts", [contact(i) for i in range(100, 300)])]))
            writer.write(staging.stage("contacts", [page("contacts", [moved, contact(300)])]))
            committed = writer.write(
                staging.stage("contacts", [page("contacts", [contact(i) for i in range(6, 96)])]), last=True
            )
        assert seen == [200, 2, 90]
        assert (sum(r.inserted for r in committed), sum(r.updated for r in committed)) == (201, 1)
        result = live.finish()
        assert result.marked_deleted == 9  # contacts 0-4 and 96-99: not listed again
        rows = con.execute("SELECT count(*), count(DISTINCT id) FROM contacts").fetchall()
        created = con.execute("SELECT created_date FROM contacts WHERE id = ?", [moved["id"]]).fetchall()
        keys = con.execute(
            "SELECT count(*) FROM duckdb_constraints() "
            "WHERE table_name = 'contacts' AND constraint_type = 'PRIMARY KEY'"
        ).fetchall()
    assert rows == [(301, 301)]
    assert created == [(BASE_TIME + timedelta(days=400),)]
    assert keys == [(0,)]  # the version-1 schema's key is gone (migration 4): nothing else would have caught a double


def test_an_error_from_outside_commits_what_was_applied_and_an_error_inside_rolls_back(
    tmp_path: Path, staging: StagingArea
) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with warehouse.connect() as con:
        with pytest.raises(ConnectionError), RowGroupWriter(con, watermark=ADVANCE_TO_MAX_CREATED) as writer:
            writer.write(staging.stage("contacts", _batch_pages(0, 1500)))
            raise ConnectionError("the page fetch failed after its retries")
        assert con.execute("SELECT count(*) FROM contacts").fetchall() == [(1500,)]
        assert get_watermark(con, "contacts") is not None

        def fail(part: object) -> None:
            raise duckdb.IOException("disk full")

        with pytest.raises(duckdb.IOException), RowGroupWriter(con, on_apply=fail) as writer:
            writer.write(staging.stage("contacts", _batch_pages(2000, 500)))
        # The connection is usable and nothing of the failed part was written.
        assert con.execute("SELECT count(*) FROM contacts").fetchall() == [(1500,)]
