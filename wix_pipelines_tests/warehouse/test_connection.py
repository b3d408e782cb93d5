from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import pytest

from wix_pipelines.warehouse import SCHEMA_VERSION, SchemaVersionError, Warehouse, WarehouseLockedError
from wix_pipelines.warehouse import schema as schema_mod

from .conftest import Holder


def test_connect_creates_parent_dirs_and_schema_idempotently(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "a" / "b" / "w.duckdb")
    with warehouse.connect() as con:  # the first read-write connection creates the schema
        assert schema_mod.current_version(con) == SCHEMA_VERSION
    assert warehouse.ensure_schema() == (SCHEMA_VERSION, SCHEMA_VERSION)
    with warehouse.connect(read_only=True) as con:
        assert con.execute("SELECT count(*), max(version) FROM _schema_version").fetchall() == [
            (SCHEMA_VERSION, SCHEMA_VERSION)
        ]
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert {"contacts", "reviews", "ratings", "review_requests", "_watermarks", "_load_log",
            "_rejected_records", "_schema_version"} <= tables  # fmt: skip


def test_forward_migration_runs_once_in_order(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_schema()
    migrations = (
        *schema_mod.MIGRATIONS,
        schema_mod.Migration(
            SCHEMA_VERSION + 1,
            "add contacts.nickname",
            lambda con: con.execute("ALTER TABLE contacts ADD COLUMN nickname VARCHAR"),
        ),
    )
    with warehouse.connect() as con:
        assert schema_mod.ensure_schema(con, migrations) == (SCHEMA_VERSION, SCHEMA_VERSION + 1)
        assert schema_mod.ensure_schema(con, migrations) == (SCHEMA_VERSION + 1, SCHEMA_VERSION + 1)
        assert con.execute("SELECT nickname FROM contacts").fetchall() == []
    # Older code refuses to write to a newer file instead of corrupting it.
    with pytest.raises(SchemaVersionError, match="upgrade"), warehouse.connect():
        pass


def test_connection_is_closed_after_the_block(warehouse: Warehouse) -> None:
    with warehouse.connect() as con:
        pass
    with pytest.raises(duckdb.ConnectionException):
        con.execute("SELECT 1")


def test_tables_are_written_in_row_groups_of_16k_rows(warehouse: Warehouse) -> None:
    """Small row groups keep a load's checkpoints from merging (rewriting) partly filled ones again and again."""
    with warehouse.connect() as con:
        con.execute("CREATE TABLE main.bulk AS SELECT range AS i FROM range(40000)")
    with warehouse.connect(read_only=True) as con:
        sizes = con.execute(
            "SELECT row_group_id, max(count) FROM pragma_storage_info('main.bulk') GROUP BY ALL ORDER BY 1"
        ).fetchall()
    assert [size for _, size in sizes] == [16384, 16384, 7232]
    assert not warehouse.path.with_name(warehouse.path.name + ".wal").exists()  # closing checkpointed


def test_a_connection_opened_while_another_is_held_shares_the_file(warehouse: Warehouse) -> None:
    with warehouse.connect() as outer:
        outer.execute("CREATE TABLE main.shared AS SELECT 1 AS i")
        with warehouse.connect() as inner:
            assert inner.execute("SELECT count(*) FROM main.shared").fetchall() == [(1,)]
        assert outer.execute("SELECT count(*) FROM main.shared").fetchall() == [(1,)]
    with warehouse.connect(read_only=True) as later:
        assert later.execute("SELECT count(*) FROM main.shared").fetchall() == [(1,)]


def test_lock_held_by_another_process_is_waited_for(warehouse: Warehouse, hold_open: type[Holder]) -> None:
    warehouse.ensure_schema()
    holder = hold_open(warehouse.path, read_only=False)
    threading.Timer(1.0, holder.stop).start()
    started = time.monotonic()
    with warehouse.connect() as con:
        assert con.execute("SELECT count(*) FROM contacts").fetchall() == [(0,)]
    assert time.monotonic() - started >= 0.5


def test_lock_held_too_long_raises_a_clear_error(tmp_path: Path, hold_open: type[Holder]) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb", lock_timeout=0.5)
    warehouse.ensure_schema()
    hold_open(warehouse.path, read_only=False)
    with pytest.raises(WarehouseLockedError, match="stayed locked by another process"):
        warehouse.row_counts()


COLUMNS_OF_CONTACTS = (
    "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'contacts' ORDER BY column_index"
)


def test_migration_4_rebuilds_the_record_tables_without_the_primary_key_keeping_rows_and_columns(
    tmp_path: Path,
) -> None:
    """A file written at schema 3 (ids under a primary key) keeps its rows, its columns in their order, NOT NULL
    ids and zstd records; the key (and its index) goes, and `_id_hash` comes after the other columns."""
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        schema_mod.ensure_schema(con, schema_mod.MIGRATIONS[:3])
        con.execute(
            "INSERT INTO contacts (id, created_date, record) "
            "SELECT 'c-' || i, TIMESTAMPTZ '2024-01-01' + to_seconds(i), "
            "json_object('id', 'c-' || i, 'n', repeat('x', 200)) FROM range(3000) t(i)"
        )
        with pytest.raises(duckdb.ConstraintException):
            con.execute("INSERT INTO contacts (id) VALUES ('c-1')")
        columns_before = con.execute(COLUMNS_OF_CONTACTS).fetchall()
        rows_before = con.execute("SELECT * FROM contacts ORDER BY id").fetchall()

    with Warehouse(path).connect() as con:  # migrates
        assert schema_mod.current_version(con) == SCHEMA_VERSION >= 4
        keys = con.execute(
            "SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' "
            "AND table_name IN ('contacts', 'reviews', 'ratings', 'review_requests')"
        ).fetchall()
        assert keys == []
        assert con.execute(COLUMNS_OF_CONTACTS).fetchall() == [*columns_before, ("_id_hash", "UBIGINT")]
        assert con.execute("SELECT * EXCLUDE (_id_hash) FROM contacts ORDER BY id").fetchall() == rows_before
        assert con.execute("SELECT count(*) FROM contacts WHERE _id_hash = hash(id)").fetchall() == [(3000,)]
        with pytest.raises(duckdb.ConstraintException, match="NOT NULL"):
            con.execute("INSERT INTO contacts (id) VALUES (NULL)")
        con.execute("CHECKPOINT")
        compression = con.execute(
            "SELECT DISTINCT compression FROM pragma_storage_info('contacts') "
            "WHERE column_name = 'record' AND segment_type <> 'VALIDITY'"
        ).fetchall()
        assert compression == [("ZSTD",)]


def test_the_file_is_released_after_each_block_while_the_instance_stays(
    warehouse: Warehouse, hold_open: type[Holder]
) -> None:
    """The instance the file is attached to is kept between blocks (making one cost 18-30 ms a pull), but the file
    is detached when the last block ends: another process can open it read-write, and a pull's instance-wide
    memory limit does not bind the next caller."""
    with warehouse.connect() as con:
        con.execute("SET memory_limit = '64MiB'")
        con.execute("INSERT INTO contacts (id) VALUES ('c-1')")
        with warehouse.connect() as inner:  # nested: the outer block still holds the file after this one
            assert inner.execute("SELECT count(*) FROM contacts").fetchall() == [(1,)]
        assert con.execute("SELECT count(*) FROM contacts").fetchall() == [(1,)]
    holder = hold_open(warehouse.path, read_only=False)  # would fail on the lock were the file still attached
    holder.stop()
    with warehouse.connect() as con:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        assert con.execute("SELECT count(*) FROM contacts").fetchall() == [(1,)]
    with duckdb.connect() as fresh:
        assert limit == fresh.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]


def test_a_spill_goes_next_to_the_file_and_nothing_is_left_at_exit(tmp_path: Path) -> None:
    """The file is attached to an in-memory instance, which DuckDB would let spill into `.tmp` in the working
    directory (the user's checkout, for `make demo`); the instance kept between blocks is shut down at exit, which
    removes its spill directory."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    path = tmp_path / "data" / "w.duckdb"
    code = textwrap.dedent(
        """
        import atexit
        import sys
        from pathlib import Path

        # Registered before the warehouse module is imported, so it runs after that module's exit handler, and
        # before the interpreter's teardown (which a Dagster run's process does not always get through cleanly).
        atexit.register(lambda: print("left at exit:", Path(sys.argv[1] + ".tmp").exists()))
        from wix_pipelines.warehouse import Warehouse

        with Warehouse(sys.argv[1]).connect() as con:
            con.execute("SET memory_limit = '64MiB'")
            con.execute("SET threads = 1")
            con.execute("SET enable_progress_bar = false")
            con.execute(
                "SELECT count(*) FROM (SELECT repeat('x', 64) || range AS v FROM range(2000000) ORDER BY v)"
            ).fetchall()
            print("spilled:", len(list(Path(sys.argv[1] + ".tmp").iterdir())))  # DuckDB's marker of its use
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], cwd=workdir, capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines() == ["spilled: 1", "left at exit: False"]  # it did spill, next to the file
    assert not (workdir / ".tmp").exists()
    assert not Path(f"{path}.tmp").exists()
