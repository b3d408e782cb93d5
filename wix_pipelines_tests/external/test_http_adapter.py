"""The HTTP adapter against the external emulator: the contract's guarantees, over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from wix_pipelines.emulator.external import Fault, RunningExternalEmulator
from wix_pipelines.external import DuplicateRecordError, ExternalSystemError, HttpExternalAdapter


def test_create_get_update_delete_round_trip_with_own_ids(adapter: HttpExternalAdapter) -> None:
    created = adapter.create("contacts", {"email": "a@example.org", "firstName": "Ann"}, idempotency_key="k1")
    assert created.id.startswith("acme-c-")
    assert adapter.get("contacts", created.id) == created
    updated = adapter.update("contacts", created.id, {"firstName": "Anna", "company": "Acme"})
    assert updated is not None and updated.fields == {"email": "a@example.org", "firstName": "Anna", "company": "Acme"}
    assert updated.version == 2 and updated.updated_at is not None
    assert adapter.find("contacts", {"email": "A@Example.org"}) == updated
    assert adapter.delete("contacts", created.id) is True
    assert adapter.delete("contacts", created.id) is False
    assert adapter.get("contacts", created.id) is None
    assert adapter.update("contacts", created.id, {"firstName": "x"}) is None


def test_same_idempotency_key_returns_the_first_record(
    adapter: HttpExternalAdapter, external: RunningExternalEmulator
) -> None:
    first = adapter.create("reviews", {"productId": "p1", "authorId": "c1", "rating": 4}, idempotency_key="r:1")
    again = adapter.create("reviews", {"productId": "p1", "authorId": "c1", "rating": 4}, idempotency_key="r:1")
    assert again.id == first.id
    assert external.state.write_count("reviews") == 1


def test_natural_key_clash_raises_duplicate_with_existing_id(adapter: HttpExternalAdapter) -> None:
    first = adapter.create(
        "ratings", {"productId": "p", "attribute": "fit", "ownerId": "c", "value": 3}, idempotency_key="a"
    )
    with pytest.raises(DuplicateRecordError) as info:
        adapter.create(
            "ratings", {"productId": "p", "attribute": "fit", "ownerId": "c", "value": 5}, idempotency_key="b"
        )
    assert info.value.existing_id == first.id


def test_change_feed_lists_every_write_in_order_with_actor_and_resumes_from_cursor(
    adapter: HttpExternalAdapter, external: RunningExternalEmulator
) -> None:
    mine = adapter.create("contacts", {"email": "s@example.org"}, idempotency_key="s")
    theirs = external.state.create("contacts", {"email": "u@example.org"}, actor="crm-user")
    external.state.delete("contacts", mine.id, actor="crm-user")
    batch = adapter.list_changes(None, limit=2)
    assert [(c.id, c.op, c.actor) for c in batch.changes] == [
        (mine.id, "upsert", "wix-sync"),
        (theirs["id"], "upsert", "crm-user"),
    ]
    assert batch.has_more
    rest = adapter.list_changes(batch.next_cursor)
    assert [(c.id, c.op) for c in rest.changes] == [(mine.id, "delete")]
    assert not rest.has_more
    assert adapter.list_changes(rest.next_cursor).changes == []


def test_iter_all_pages_through_every_record(external: RunningExternalEmulator) -> None:
    for i in range(25):
        external.state.create("contacts", {"email": f"p{i}@example.org"}, actor="crm-user")
    with HttpExternalAdapter(external.base_url, external.sync_token, page_size=7) as small_pages:
        assert len({r.id for r in small_pages.iter_all("contacts")}) == 25


def test_lost_create_answer_is_retried_without_a_copy(
    adapter: HttpExternalAdapter, external: RunningExternalEmulator
) -> None:
    external.state.add_fault(Fault(mode="after", count=1))
    record = adapter.create("contacts", {"email": "once@example.org"}, idempotency_key="once")
    assert external.state.write_count("contacts") == 1
    assert adapter.get("contacts", record.id) is not None


def test_persistent_failure_surfaces_as_external_system_error(external: RunningExternalEmulator) -> None:
    external.state.add_fault(Fault(mode="before", count=5))
    with (
        HttpExternalAdapter(external.base_url, external.sync_token, max_attempts=2, backoff_s=0.0) as a,
        pytest.raises(ExternalSystemError) as info,
    ):
        a.create("contacts", {"email": "x@example.org"}, idempotency_key="x")
    assert info.value.status == 500 and info.value.retryable


def test_unknown_token_is_refused(external: RunningExternalEmulator) -> None:
    response = httpx.get(f"{external.base_url}/api/v1/contacts", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    with HttpExternalAdapter(external.base_url, "nope", max_attempts=1) as a, pytest.raises(ExternalSystemError):
        a.list_changes(None)


def test_admin_stats_count_writes_by_actor(adapter: HttpExternalAdapter, external: RunningExternalEmulator) -> None:
    adapter.create("contacts", {"email": "s@example.org"}, idempotency_key="s")
    stats = httpx.get(f"{external.base_url}/_admin/stats").json()
    assert stats["writes"] == [{"kind": "contacts", "op": "upsert", "actor": "wix-sync", "count": 1}]


def test_cli_serves_the_external_emulator_until_sigterm() -> None:
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "wix_pipelines.cli", "external-emulator", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                stats = httpx.get(f"http://127.0.0.1:{port}/_admin/stats", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the external emulator did not start"
                time.sleep(0.1)
        assert stats.json()["changes"] == 0
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
