"""Faults on demand (seeded rates and scripts) and the `/_emulator/` admin routes."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from wix_pipelines.emulator.config import FaultConfig
from wix_pipelines.emulator.server import RunningEmulator
from wix_pipelines_tests.emulator.helpers import app_code, ok

CONTACTS = "/contacts/v4/contacts"


def client_for(emulator: RunningEmulator, timeout: float = 10.0) -> httpx.Client:
    return httpx.Client(base_url=emulator.base_url, headers=emulator.api_key_headers(), timeout=timeout)


def test_rate_limited_request_is_429_with_retry_after_and_envelope(
    emulator_factory: Callable[..., RunningEmulator],
) -> None:
    emulator = emulator_factory(faults=FaultConfig(rate_429=1.0, retry_after_s=2))
    response = client_for(emulator).get(CONTACTS)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.headers["x-wix-request-id"]
    assert response.json()["message"] == "Rate limit exceeded"
    assert app_code(response) == "RESOURCE_EXHAUSTED"


def test_server_errors_have_empty_details(emulator_factory: Callable[..., RunningEmulator]) -> None:
    emulator = emulator_factory(faults=FaultConfig(rate_5xx=1.0))
    statuses = set()
    client = client_for(emulator)
    for _ in range(12):
        response = client.get(CONTACTS)
        statuses.add(response.status_code)
        assert response.json()["details"] == {}
    assert statuses == {500, 503}


def test_random_faults_repeat_for_the_same_seed(emulator_factory: Callable[..., RunningEmulator]) -> None:
    runs = []
    for _ in range(2):
        emulator = emulator_factory(faults=FaultConfig(rate_429=0.3, rate_5xx=0.2, seed=7))
        client = client_for(emulator)
        runs.append([client.get(CONTACTS).status_code for _ in range(20)])
    assert runs[0] == runs[1]
    assert {200, 429} <= set(runs[0])


def test_scripted_faults_hit_the_next_matching_requests_only(
    emulator: RunningEmulator, emulator_http: httpx.Client
) -> None:
    emulator.state.faults.inject(503, count=2, path_prefix="/reviews/")
    assert emulator_http.get(CONTACTS).status_code == 200
    assert [emulator_http.post("/reviews/v1/reviews/query", json={}).status_code for _ in range(3)] == [503, 503, 200]
    emulator.state.faults.inject(429, retry_after=0.25)
    response = emulator_http.get(CONTACTS)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "0.25")


def test_dropped_connection_gives_the_client_no_response(
    emulator: RunningEmulator, emulator_http: httpx.Client
) -> None:
    emulator.state.faults.inject(None, drop_connection=True)
    with pytest.raises(httpx.TransportError):
        emulator_http.get(CONTACTS)
    ok(emulator_http.get(CONTACTS))


def test_delay_beyond_the_client_timeout_times_out(emulator: RunningEmulator) -> None:
    emulator.state.faults.inject(None, delay_s=0.5)
    with pytest.raises(httpx.ReadTimeout):
        client_for(emulator, timeout=0.1).get(CONTACTS)


def test_latency_is_added_to_every_request(emulator_factory: Callable[..., RunningEmulator]) -> None:
    client = client_for(emulator_factory(faults=FaultConfig(latency_ms=60)))
    started = time.perf_counter()
    ok(client.get(CONTACTS))
    assert time.perf_counter() - started >= 0.06


def test_admin_fault_route_scripts_faults_over_http(emulator: RunningEmulator, emulator_http: httpx.Client) -> None:
    ok(httpx.post(emulator.base_url + "/_emulator/faults", json={"status": 500, "count": 1, "path_prefix": CONTACTS}))
    assert emulator_http.get(CONTACTS).status_code == 500
    assert emulator_http.get(CONTACTS).status_code == 200


def test_stats_count_requests_by_route_template_and_writes(
    emulator: RunningEmulator, emulator_http: httpx.Client
) -> None:
    contact = ok(emulator_http.post(CONTACTS, json={"info": {"name": {"first": "S"}}}))["contact"]
    ok(emulator_http.get(f"{CONTACTS}/{contact['id']}"))
    ok(emulator_http.get(f"/_api{CONTACTS}/{contact['id']}"))
    stats = ok(httpx.get(emulator.base_url + "/_emulator/stats"))
    assert stats["requests"] == {"POST /contacts/v4/contacts": 1, "GET /contacts/v4/contacts/{contactId}": 2}
    assert stats["writes"] == 1
    assert emulator.state.stats.count("GET", "/contacts/v4/contacts/{contactId}") == 2


def test_inserted_records_keep_their_created_date_and_show_up_in_order(
    emulator: RunningEmulator, emulator_http: httpx.Client
) -> None:
    late = {"id": "late-1", "createdDate": "2020-01-01T00:00:00Z", "info": {"name": {"first": "Late"}}}
    response = ok(httpx.post(emulator.base_url + "/_emulator/records/contacts", json={"records": [late]}))
    stored = response["records"][0]
    assert stored["createdDate"] == "2020-01-01T00:00:00.000Z" and stored["revision"] == 1
    first = ok(emulator_http.get(CONTACTS, params={"paging.limit": 1}))["contacts"][0]
    assert first["id"] == "late-1"


def test_reset_restores_the_seed_and_clears_stats(emulator: RunningEmulator, emulator_http: httpx.Client) -> None:
    before = ok(emulator_http.get(CONTACTS, params={"paging.limit": 100}))["contacts"]
    ok(emulator_http.post(CONTACTS, json={"info": {"name": {"first": "Extra"}}}))
    ok(httpx.post(emulator.base_url + "/_emulator/reset"))
    assert emulator.state.stats.total_requests == 0 and emulator.state.events == []
    assert ok(emulator_http.get(CONTACTS, params={"paging.limit": 100}))["contacts"] == before
