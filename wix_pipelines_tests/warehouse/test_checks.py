"""The data-quality rules, on a real DuckDB file: they find what they are for, and only that."""

from __future__ import annotations

from wix_pipelines.warehouse import Warehouse
from wix_pipelines.warehouse.checks import evaluate, rules_for

from .fakes import contact, page


def test_unique_ids_finds_every_repeated_id_and_nothing_else(warehouse: Warehouse) -> None:
    """The tables have no primary key, so this check is the last word on duplicates: it must not depend on what the
    loaders wrote (a stale or wrong `_id_hash` included)."""
    (unique_ids,) = [rule for rule in rules_for("contacts") if rule.name == "unique_ids"]
    warehouse.upsert_batch("contacts", page("contacts", [contact(i) for i in range(200)]))
    with warehouse.connect() as con:
        assert evaluate(con, unique_ids) == (0, [])
        # Two doubles written behind the loaders' back, one of them with a wrong `_id_hash`.
        con.execute(
            "INSERT INTO contacts SELECT * FROM contacts WHERE id IN (?, ?)", [contact(7)["id"], contact(9)["id"]]
        )
        con.execute("UPDATE contacts SET _id_hash = 0 WHERE rowid = (SELECT max(rowid) FROM contacts)")
        assert evaluate(con, unique_ids) == (2, sorted([contact(7)["id"], contact(9)["id"]]))
