"""The pull assets through real Dagster, against the emulator over HTTP, into real DuckDB files (issue 3)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from wix_pipelines.defs.ingest.assets import pull_assets
from wix_pipelines.defs.ingest.history import history_job
from wix_pipelines.emulator.server import RunningEmulator
from wix_pipelines.wix import WixClient

from .helpers import (
    STREAM_COLLECTIONS,
    emulator_rows,
    materialization_metadata,
    parse_wire_time,
    pull,
    resources_for,
    table_dump,
    warehouse_rows,
)

SEED = {"seed": 7, "contacts": 1500, "reviews": 450, "ratings": 450, "review_requests": 150}
CONTACTS_QUERY_ROUTE = "POST /contacts/v4/contacts/query"


def _client(emulator: RunningEmulator) -> WixClient:
    return WixClient.from_api_key(
        emulator.config.api_key,
        site_id=emulator.config.site_id,
        base_url=emulator.base_url,
        rate_limit_per_minute=0,
    )


def _tied_contacts(count: int, created: str, prefix: str) -> list[dict]:
    return [
        {"info": {"name": {"first": f"{prefix}{i}", "last": "Tied"}, "emails": {"items": [
            {"email": f"{prefix.lower()}{i}@tied.example.org", "tag": "MAIN", "primary": True}]}},
         "createdDate": created}
        for i in range(count)
    ]  # fmt: skip


def _assert_warehouse_equals_emulator(emulator: RunningEmulator, database: Path) -> None:
    for stream in STREAM_COLLECTIONS:
        assert warehouse_rows(database, stream) == emulator_rows(emulator, stream), stream


@pytest.fixture
def seeded(emulator_factory: Callable[..., RunningEmulator]) -> RunningEmulator:
    emulator = emulator_factory(**SEED)
    # A bulk import: 1,100 contacts in one millisecond, so a tie spans the 1,000-record page boundary.
    emulator.state.insert_records("contacts", _tied_contacts(1100, "2024-11-01T10:00:00.000Z", "Bulk"))
    return emulator


def test_first_load_equals_the_emulator_for_all_four_tables(seeded: RunningEmulator, tmp_path: Path) -> None:
    result = pull(resources_for(seeded, tmp_path))

    _assert_warehouse_equals_emulator(seeded, tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        sample = seeded.state.reviews.values().__iter__().__next__()
        rating, entity = con.execute("SELECT rating, entity_id FROM reviews WHERE id = ?", [sample["id"]]).fetchall()[0]
        assert (rating, entity) == (sample["content"]["rating"], sample["entityId"])
    contacts = materialization_metadata(result, "contacts")
    assert contacts["mode"] == "full"
    assert contacts["inserted"] == len(seeded.state.contacts)
    assert contacts["dagster/row_count"] == len(seeded.state.contacts)
    # The analysts' snapshot was published and holds the same rows.
    assert warehouse_rows(tmp_path / "analytics.duckdb", "contacts") == emulator_rows(seeded, "contacts")
    assert all(
        check.passed for check in result.get_asset_check_evaluations() if check.check_name != "author_contact_known"
    )


def test_a_first_load_skips_the_deletion_pass_and_a_reconciliation_runs_it(
    seeded: RunningEmulator, tmp_path: Path
) -> None:
    """An empty table has nothing the listing could find missing, so a first load collects no live ids (a million
    contacts' take ~40 MB); a reconciliation of the loaded table compares them."""
    resources = resources_for(seeded, tmp_path)
    database = tmp_path / "warehouse.duckdb"

    def reconciliations() -> list[tuple[str, int]]:
        with duckdb.connect(str(database), read_only=True) as con:
            return con.execute(
                "SELECT stream, fetched FROM main._load_log WHERE operation = 'reconcile' ORDER BY stream"
            ).fetchall()

    pull(resources, "contacts", "reviews")
    assert reconciliations() == []
    pull(resources, "contacts", "reviews", reconcile=True)
    assert reconciliations() == [
        ("contacts", len(seeded.state.contacts)),
        ("reviews", len(seeded.state.reviews)),
    ]


def test_second_run_without_changes_makes_one_request_per_stream_and_changes_no_row(
    seeded: RunningEmulator, tmp_path: Path
) -> None:
    resources = resources_for(seeded, tmp_path)
    pull(resources)
    database = tmp_path / "warehouse.duckdb"
    before = {stream: table_dump(database, stream) for stream in STREAM_COLLECTIONS}
    requests_before = seeded.state.stats.total_requests

    result = pull(resources)

    assert seeded.state.stats.total_requests - requests_before <= len(STREAM_COLLECTIONS)
    for stream in STREAM_COLLECTIONS:
        metadata = materialization_metadata(result, stream)
        assert metadata["mode"] == "incremental"
        assert metadata["requests"] <= 1, stream
        assert (metadata["inserted"], metadata["updated"], metadata["deleted"]) == (0, 0, 0), stream
        assert table_dump(database, stream) == before[stream], stream


def test_new_tied_late_updated_and_deleted_records_are_reflected_exactly_once(
    seeded: RunningEmulator, tmp_path: Path
) -> None:
    resources = resources_for(seeded, tmp_path)
    pull(resources)
    database = tmp_path / "warehouse.duckdb"
    state = seeded.state
    newest = max(parse_wire_time(c["createdDate"]) for c in state.contacts.values())

    # New contacts tied on one millisecond across a page boundary, and a late one inside the look-back.
    state.insert_records("contacts", _tied_contacts(1005, (newest + timedelta(minutes=5)).isoformat(), "New"))
    late = state.insert_records("contacts", _tied_contacts(1, (newest - timedelta(minutes=20)).isoformat(), "Late"))
    # An update through the API (updatedDate moves; createdDate does not).
    old_contact = min(state.contacts.values(), key=lambda c: c["createdDate"])
    with _client(seeded) as wix:
        wix.contacts.update(old_contact["id"], old_contact["revision"], {"company": "Renamed Ltd"})
    # New reviews tied on one millisecond across a 100-record cursor page.
    contact_ids = [c["id"] for c in list(state.contacts.values())[:150]]
    review_time = max(parse_wire_time(r["createdDate"]) for r in state.reviews.values()) + timedelta(seconds=1)
    state.insert_records("reviews", [
        {"namespace": "stores", "entityId": "prod-tied", "author": {"contactId": cid},
         "content": {"rating": 4, "title": "tied"}, "createdDate": review_time.isoformat(),
         "moderation": {"moderationStatus": "APPROVED"}}
        for cid in contact_ids
    ])  # fmt: skip

    result = pull(resources)

    contacts = materialization_metadata(result, "contacts")
    assert (contacts["inserted"], contacts["updated"]) == (1006, 1)
    assert late[0]["id"] in warehouse_rows(database, "contacts")
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("SELECT company FROM contacts WHERE id = ?", [old_contact["id"]]).fetchall() == [
            ("Renamed Ltd",)
        ]
    assert materialization_metadata(result, "reviews")["inserted"] == 150
    _assert_warehouse_equals_emulator(seeded, database)

    # Votes changed on an old review, and one record of each stream deleted: the reconciliation run sees both.
    voted = min(state.reviews.values(), key=lambda r: r["createdDate"])
    state.put(
        "reviews",
        {**voted, "foundHelpful": voted.get("foundHelpful", 0) + 7, "updatedDate": voted["createdDate"]},
    )
    deleted = {stream: next(iter(getattr(state, stream).values()))["id"] for stream in STREAM_COLLECTIONS}
    for stream, record_id in deleted.items():
        state.delete(stream, record_id)

    result = pull(resources, reconcile=True)

    for stream, record_id in deleted.items():
        assert materialization_metadata(result, stream)["deleted"] == 1, stream
        assert record_id in warehouse_rows(database, stream, live=False)
        assert record_id not in warehouse_rows(database, stream)
    assert materialization_metadata(result, "reviews")["updated"] == 1
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("SELECT found_helpful FROM reviews WHERE id = ?", [voted["id"]]).fetchall()[0][0] == (
            voted.get("foundHelpful", 0) + 7
        )
    _assert_warehouse_equals_emulator(seeded, database)


def _updated_since(database: Path, stream: str) -> datetime:
    with duckdb.connect(str(database), read_only=True) as con:
        details = con.execute("SELECT details FROM main._watermarks WHERE stream = ?", [stream]).fetchall()[0][0]
    return parse_wire_time(json.loads(details)["updated_since"])


def test_a_contact_updated_behind_the_pull_during_a_pass_is_loaded_by_the_next_run(
    seeded: RunningEmulator, tmp_path: Path
) -> None:
    resources = resources_for(seeded, tmp_path)
    pull(resources, "contacts")
    database = tmp_path / "warehouse.duckdb"
    state = seeded.state
    newest = max(parse_wire_time(c["createdDate"]) for c in state.contacts.values())
    # Enough new contacts for a pass of three pages, served slowly, so the update below lands mid-pass.
    state.insert_records("contacts", _tied_contacts(2500, (newest + timedelta(minutes=5)).isoformat(), "Wave"))
    oldest = min(state.contacts.values(), key=lambda c: c["createdDate"])
    requests_before = state.stats.count("POST", "/contacts/v4/contacts/query")
    state.faults.config.latency_ms = 200.0

    def update_after_the_first_page() -> None:
        deadline = time.monotonic() + 60
        while state.stats.count("POST", "/contacts/v4/contacts/query") <= requests_before:
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        # The pass reads in createdDate order and is past the oldest contact: this update is behind it.
        with _client(seeded) as wix:
            wix.contacts.update(oldest["id"], oldest["revision"], {"company": "Updated Mid-Pass"})

    updater = threading.Thread(target=update_after_the_first_page)
    updater.start()
    try:
        during = pull(resources, "contacts")
    finally:
        updater.join()
        state.faults.config.latency_ms = 0.0

    assert materialization_metadata(during, "contacts")["requests"] >= 3
    company = "SELECT json_extract_string(record, '$.info.company') FROM contacts WHERE id = ?"
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute(company, [oldest["id"]]).fetchall() != [("Updated Mid-Pass",)], "not behind the pass"

    after = pull(resources, "contacts")

    assert materialization_metadata(after, "contacts")["updated"] == 1
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute(company, [oldest["id"]]).fetchall() == [("Updated Mid-Pass",)]
    assert warehouse_rows(database, "contacts") == emulator_rows(seeded, "contacts")


def test_the_updated_date_bound_is_the_last_pass_start_minus_a_short_look_back(
    seeded: RunningEmulator, tmp_path: Path
) -> None:
    """Not the createdDate look-back (an hour): a contact updated just before a run is read by that run only."""
    resources = resources_for(seeded, tmp_path)
    database = tmp_path / "warehouse.duckdb"
    pull(resources, "contacts")
    state = seeded.state
    target = min(state.contacts.values(), key=lambda c: c["createdDate"])
    with _client(seeded) as wix:
        wix.contacts.update(target["id"], target["revision"], {"company": "Renamed Before The Run"})
    time.sleep(1.2)  # more than the look-back configured below: the next pass starts clearly after the update
    config = {"ops": {"contacts": {"config": {"updated_lookback_seconds": 1}}}}
    pass_start = _updated_since(database, "contacts")

    picked_up = dg.materialize(pull_assets, resources=resources, selection=["contacts"], run_config=config)

    metadata = materialization_metadata(picked_up, "contacts")
    assert metadata["updated"] == 1
    assert parse_wire_time(metadata["window"]["updated_since"]) == pass_start - timedelta(seconds=1)
    requests_before = state.stats.count("POST", "/contacts/v4/contacts/query")

    again = dg.materialize(pull_assets, resources=resources, selection=["contacts"], run_config=config)

    metadata = materialization_metadata(again, "contacts")
    assert state.stats.count("POST", "/contacts/v4/contacts/query") - requests_before == 1
    assert metadata["fetched"] < 10, "the contact updated before the previous run was read again"
    assert (metadata["inserted"], metadata["updated"]) == (0, 0)


def test_run_failing_after_some_pages_then_rerun_loses_and_duplicates_nothing(
    seeded: RunningEmulator, tmp_path: Path
) -> None:
    resources = resources_for(seeded, tmp_path)
    # The third contacts page answers a 400: raised at once, after two one-page batches were committed
    # (with records_per_batch=1 a batch closes as soon as it holds a record).
    seeded.state.faults.inject(None, count=2, path_prefix="/contacts/v4/contacts/query")
    seeded.state.faults.inject(400, count=1, path_prefix="/contacts/v4/contacts/query")
    failed = pull(resources, "contacts", records_per_batch=1, raise_on_error=False)
    assert not failed.success
    database = tmp_path / "warehouse.duckdb"
    loaded = warehouse_rows(database, "contacts")
    assert 0 < len(loaded) < len(seeded.state.contacts)

    pull(resources, "contacts")

    assert warehouse_rows(database, "contacts") == emulator_rows(seeded, "contacts")


def _materialize_in_child(emulator: RunningEmulator, tmp_path: Path, streams: str = "contacts") -> subprocess.Popen:
    script = textwrap.dedent(
        f"""
        import dagster as dg
        from wix_pipelines.defs.ingest.assets import pull_assets
        from wix_pipelines_tests.defs.helpers import resources_for
        from wix_pipelines.emulator.config import EmulatorConfig
        class Emu:  # what resources_for reads from a running emulator
            base_url = {emulator.base_url!r}
            config = EmulatorConfig(api_key={emulator.config.api_key!r}, site_id={emulator.config.site_id!r})
        from pathlib import Path
        result = dg.materialize(pull_assets, resources=resources_for(Emu, Path({str(tmp_path)!r})),
                                selection={streams.split(",")!r})
        raise SystemExit(0 if result.success else 1)
        """
    )
    return subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2])


def test_sigkill_mid_run_then_rerun_loses_and_duplicates_nothing(seeded: RunningEmulator, tmp_path: Path) -> None:
    # Slow pages so the kill lands mid-pull: the third (last) page is still on its way when the second is counted.
    seeded.state.faults.config.latency_ms = 500.0
    child = _materialize_in_child(seeded, tmp_path)
    deadline = time.monotonic() + 60
    while seeded.state.stats.count("POST", "/contacts/v4/contacts/query") < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    seeded.state.faults.config.latency_ms = 0.0

    pull(resources_for(seeded, tmp_path), "contacts")

    assert warehouse_rows(tmp_path / "warehouse.duckdb", "contacts") == emulator_rows(seeded, "contacts")


def test_backfill_of_a_date_range_run_twice_leaves_identical_tables(seeded: RunningEmulator, tmp_path: Path) -> None:
    resources = resources_for(seeded, tmp_path)
    day = parse_wire_time(next(iter(seeded.state.reviews.values()))["createdDate"]).date().isoformat()

    first = history_job.execute_in_process(partition_key=day, resources=resources)
    database = tmp_path / "warehouse.duckdb"
    dumps = {stream: table_dump(database, stream) for stream in STREAM_COLLECTIONS}
    second = history_job.execute_in_process(partition_key=day, resources=resources)

    assert first.success and second.success
    assert dumps["reviews"], "the chosen day has reviews"
    for stream in STREAM_COLLECTIONS:
        assert table_dump(database, stream) == dumps[stream], stream
        expected = {i for i, created in emulator_rows(seeded, stream).items() if created.date().isoformat() == day}
        assert set(warehouse_rows(database, stream)) == expected, stream


def test_runs_succeed_while_an_analyst_holds_the_snapshot_and_when_launched_together(
    seeded: RunningEmulator, tmp_path: Path
) -> None:
    resources = resources_for(seeded, tmp_path)
    pull(resources, "contacts")
    snapshot = tmp_path / "analytics.duckdb"
    analyst = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, time; con = duckdb.connect("
         f"{str(snapshot)!r}, read_only=True); con.execute('SELECT count(*) FROM contacts').fetchall(); "
         "print('open', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert analyst.stdout is not None and analyst.stdout.readline().strip() == "open"
        seeded.state.insert_records("contacts", _tied_contacts(3, "2099-01-01T00:00:00.000Z", "Future"))

        together = [
            _materialize_in_child(seeded, tmp_path, "contacts,reviews"),
            _materialize_in_child(seeded, tmp_path),
        ]
        assert [child.wait(timeout=400) for child in together] == [0, 0]
        assert analyst.poll() is None, "the analyst's session is still alive"
    finally:
        analyst.kill()
    assert warehouse_rows(snapshot, "contacts") == emulator_rows(seeded, "contacts")


def test_definitions_load_with_no_secrets_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WIX_API_KEY", "WIX_APP_ID", "WIX_APP_SECRET", "WIX_INSTANCE_ID"):
        monkeypatch.delenv(name, raising=False)
    from wix_pipelines.definitions import defs

    dg.Definitions.validate_loadable(defs)
    assert {"wix_pull", "wix_reconcile", "wix_history"} <= {job.name for job in defs.resolve_all_job_defs()}
