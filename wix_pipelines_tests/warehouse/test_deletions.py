from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wix_pipelines.warehouse import IdReconciler, ReconciliationAbortedError, Warehouse

from .fakes import contact, page, review


def _deleted(warehouse: Warehouse, table: str) -> set[str]:
    with warehouse.connect() as con:
        return {r[0] for r in con.execute(f"SELECT id FROM {table} WHERE deleted_at IS NOT NULL").fetchall()}


def test_reconcile_marks_exactly_the_ids_missing_from_the_live_set(warehouse: Warehouse) -> None:
    ids = [contact(i)["id"] for i in range(10)]
    warehouse.upsert_batch("contacts", page("contacts", [contact(i) for i in range(10)]))
    warehouse.mark_deleted("contacts", [ids[9]])  # already deleted: not counted again
    live = [ids[0:3], ids[5:8]]  # batches; 3, 4 and 8 are gone
    result = warehouse.reconcile_ids("contacts", live, run_id="rec")
    assert (result.live_ids, result.marked_deleted, result.alive_after) == (6, 3, 6)
    assert _deleted(warehouse, "contacts") == {ids[3], ids[4], ids[8], ids[9]}


def test_reconcile_accepts_flat_ids_and_raw_pages(warehouse: Warehouse) -> None:
    reviews = [review(i) for i in range(6)]
    warehouse.upsert_batch("reviews", page("reviews", reviews))
    live = [reviews[0]["id"], page("reviews", reviews[1:3]), reviews[5]["id"]]
    result = warehouse.reconcile_ids("reviews", live)
    assert result.marked_deleted == 2
    assert _deleted(warehouse, "reviews") == {reviews[3]["id"], reviews[4]["id"]}


def test_reconcile_reports_listed_rows_that_are_marked_deleted(warehouse: Warehouse) -> None:
    warehouse.upsert_batch("contacts", page("contacts", [contact(0), contact(1)]))
    warehouse.mark_deleted("contacts", [contact(1)["id"]])
    result = warehouse.reconcile_ids("contacts", [[contact(0)["id"], contact(1)["id"]]])
    assert (result.marked_deleted, result.listed_but_deleted) == (0, 1)


def test_reconcile_refuses_to_delete_more_than_allowed(warehouse: Warehouse) -> None:
    warehouse.upsert_batch("contacts", page("contacts", [contact(i) for i in range(10)]))
    with pytest.raises(ReconciliationAbortedError, match="9 of 10"):
        warehouse.reconcile_ids("contacts", [[contact(0)["id"]]], max_deleted_fraction=0.5)
    assert _deleted(warehouse, "contacts") == set()


def test_reconciler_streams_batches_on_one_connection(warehouse: Warehouse) -> None:
    warehouse.upsert_batch("contacts", page("contacts", [contact(i) for i in range(4)]))
    at = datetime(2025, 1, 2, tzinfo=UTC)
    with warehouse.connect() as con:
        rec = IdReconciler(con, "contacts")
        rec.add([contact(0)["id"]])
        rec.add(page("contacts", [contact(2)]))
        result = rec.finish(at=at)
        assert result.marked_deleted == 2
        assert con.execute("SELECT DISTINCT deleted_at FROM contacts WHERE deleted_at IS NOT NULL").fetchall() == [
            (at,)
        ]
        assert con.execute("SELECT operation, deleted FROM _load_log ORDER BY load_id DESC LIMIT 1").fetchall() == [
            ("reconcile", 2)
        ]


def test_mark_deleted_ignores_unknown_and_already_deleted_ids(warehouse: Warehouse) -> None:
    warehouse.upsert_batch("contacts", page("contacts", [contact(0), contact(1)]))
    assert warehouse.mark_deleted("contacts", [contact(0)["id"], "no-such-id"]) == 1
    assert warehouse.mark_deleted("contacts", [contact(0)["id"]]) == 0


def test_unknown_table_is_a_clear_error(warehouse: Warehouse) -> None:
    with pytest.raises(ValueError, match="unknown stream/table 'orders'"):
        warehouse.mark_deleted("orders", ["x"])
