from __future__ import annotations

import stat
from pathlib import Path

import duckdb

from wix_pipelines.warehouse import SCHEMA_VERSION, Warehouse, publish_snapshot, publish_snapshot_from

from .conftest import Holder
from .fakes import contact, page


def test_snapshot_is_a_complete_read_only_copy(warehouse: Warehouse, tmp_path: Path) -> None:
    warehouse.upsert_batch("contacts", page("contacts", [contact(i) for i in range(5)]), watermark="w")
    target = tmp_path / "data" / "analytics.duckdb"
    result = publish_snapshot(warehouse.path, target)
    assert result.tables["contacts"] == 5 and result.tables["_watermarks"] == 1
    assert not stat.S_IMODE(target.stat().st_mode) & 0o222
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("SELECT count(*), count(record) FROM contacts").fetchall() == [(5, 5)]
        assert con.execute("SELECT schema_version FROM _snapshot").fetchall() == [(SCHEMA_VERSION,)]
    assert [p.name for p in target.parent.iterdir()] == ["analytics.duckdb"]  # no temp files left


def test_publishing_while_an_analyst_holds_the_snapshot_open(
    warehouse: Warehouse, tmp_path: Path, hold_open: type[Holder]
) -> None:
    target = tmp_path / "analytics.duckdb"
    warehouse.upsert_batch("contacts", page("contacts", [contact(i) for i in range(3)]))
    publish_snapshot(warehouse.path, target)
    analyst = hold_open(target, read_only=True)
    assert analyst.rows_at_open == 3

    warehouse.upsert_batch("contacts", page("contacts", [contact(i) for i in range(3, 10)]))
    publish_snapshot(warehouse.path, target)  # must neither block nor fail
    with warehouse.connect() as con:  # publishing from a held write connection works too
        publish_snapshot_from(con, target)

    assert analyst.ask_count() == 3  # the analyst keeps a consistent view of the old file
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM contacts").fetchall() == [(10,)]


def test_publishing_keeps_the_row_groups_as_written(warehouse: Warehouse, tmp_path: Path) -> None:
    """The copy is checkpointed with the warehouse's row group size: DuckDB's default would merge every table's
    row groups into bigger ones there (a full rewrite of the warehouse: 15 s and 2.8 GB for 1M contacts)."""
    with warehouse.connect() as con:
        con.execute("CREATE TABLE main.bulk AS SELECT range AS i FROM range(40000)")
    target = tmp_path / "analytics.duckdb"
    publish_snapshot(warehouse.path, target)
    with duckdb.connect(str(target), read_only=True) as con:
        sizes = con.execute("SELECT max(count) FROM pragma_storage_info('main.bulk') GROUP BY row_group_id").fetchall()
    assert sorted(size for (size,) in sizes) == [7232, 16384, 16384]
