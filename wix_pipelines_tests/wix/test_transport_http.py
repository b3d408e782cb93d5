"""Retries, typed errors, timeouts, dropped connections, rate limiting and cursor paging over real HTTP."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from wix_pipelines.emulator.server import RunningEmulator
from wix_pipelines.wix import (
    Filter,
    Query,
    RateLimiter,
    RetryPolicy,
    WixBadRequestError,
    WixClient,
    WixConflictError,
    WixNotFoundError,
    WixRateLimitError,
    WixServerError,
    WixTransportError,
    paths,
)

from .conftest import FAST_RETRY, RecordingTransport

DANA = {"name": {"first": "Dana"}, "emails": {"items": [{"email": "dana@example.org"}]}}


def _server_requests(emu: RunningEmulator) -> int:
    return emu.state.stats.total_requests


def test_a_429_with_retry_after_is_waited_out(emu: RunningEmulator, client: WixClient) -> None:
    emu.state.faults.inject(429, count=1, path_prefix=paths.CONTACTS_QUERY, retry_after=0.6)
    started = time.monotonic()
    page = client.contacts.query_page()
    elapsed = time.monotonic() - started
    assert page.total == 0
    assert elapsed >= 0.6, f"retried after {elapsed:.3f} s, before Retry-After ran out"
    assert elapsed < 2.0
    assert client.stats.retries == 1 and client.stats.requests == 2


def test_a_429_on_a_create_is_retried_because_it_was_refused_before_processing(
    emu: RunningEmulator, client: WixClient
) -> None:
    emu.state.faults.inject(429, count=2, path_prefix=paths.CONTACTS, retry_after=0.05)
    contact = client.contacts.create(DANA, allow_duplicates=True)
    assert contact.email == "dana@example.org"
    assert len(emu.state.contacts) == 1


def test_a_retry_after_beyond_the_budget_is_raised_without_sleeping(
    make_client: Callable[..., WixClient], emu: RunningEmulator
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=5, max_total_wait_s=1.0, max_retry_after_s=30))
    emu.state.faults.inject(429, count=1, retry_after=20)
    started = time.monotonic()
    with pytest.raises(WixRateLimitError) as err:
        client.contacts.query_page()
    assert time.monotonic() - started < 1.0
    assert err.value.retry_after == 20 and err.value.request_id


def test_5xx_is_retried_then_raised_as_a_typed_error_once_the_budget_is_spent(
    emu: RunningEmulator, client: WixClient
) -> None:
    emu.state.faults.inject(503, count=10)
    with pytest.raises(WixServerError) as err:
        client.contacts.query_page()
    assert err.value.status_code == 503
    assert err.value.attempts == FAST_RETRY.max_attempts == 4
    assert _server_requests(emu) == 4
    assert err.value.request_id
    assert "after 4 attempts" in str(err.value)


def test_a_transient_500_on_a_read_is_retried_to_success(emu: RunningEmulator, client: WixClient) -> None:
    emu.state.faults.inject(500, count=2)
    assert client.contacts.query_page().total == 0
    assert client.stats.retries == 2


def test_a_500_on_a_create_without_natural_key_is_not_replayed(emu: RunningEmulator, client: WixClient) -> None:
    # With allowDuplicates the server would store a second copy if our first attempt had gone through.
    emu.state.faults.inject(500, count=1)
    with pytest.raises(WixServerError) as err:
        client.contacts.create(DANA, allow_duplicates=True)
    assert err.value.attempts == 1 and _server_requests(emu) == 1


def test_a_4xx_is_raised_at_once_with_its_application_code_and_request_id(
    emu: RunningEmulator, client: WixClient
) -> None:
    first = client.contacts.create(DANA)
    before = client.stats.requests
    with pytest.raises(WixConflictError) as err:
        client.contacts.create(DANA)
    assert client.stats.requests - before == 1, "a 4xx must not be retried"
    assert err.value.status_code == 409
    assert err.value.code == "DUPLICATE_CONTACT_EXISTS"
    assert err.value.duplicate_id == first.id
    assert err.value.request_id and err.value.request_id in str(err.value)
    assert "DUPLICATE_CONTACT_EXISTS" in str(err.value) and "POST /contacts/v4/contacts" in str(err.value)

    with pytest.raises(WixNotFoundError) as missing:
        client.contacts.get("00000000-0000-4000-8000-000000000000")
    assert missing.value.code == "CONTACT_NOT_FOUND" and missing.value.attempts == 1

    with pytest.raises(WixBadRequestError) as bad:
        client.contacts.query_page(Query(filter=Filter.eq("noSuchField", 1)))
    assert bad.value.code and bad.value.code.startswith("UNSUPPORTED_FILTER")


def test_a_timeout_is_retried(make_client: Callable[..., WixClient], emu: RunningEmulator) -> None:
    client = make_client(timeout=0.3)
    emu.state.faults.inject(None, count=1, delay_s=1.0)
    assert client.contacts.query_page().total == 0
    assert client.stats.retries == 1


def test_a_dropped_connection_is_retried(emu: RunningEmulator, client: WixClient) -> None:
    emu.state.faults.inject(None, count=2, drop_connection=True)
    assert client.contacts.query_page().total == 0
    assert client.stats.retries == 2


def test_a_dropped_connection_on_an_unsafe_create_is_not_replayed(emu: RunningEmulator, client: WixClient) -> None:
    emu.state.faults.inject(None, count=1, drop_connection=True)
    with pytest.raises(WixTransportError) as err:
        client.contacts.create(DANA, allow_duplicates=True)
    assert err.value.attempts == 1


def test_network_failures_outliving_the_budget_raise_a_transport_error(
    make_client: Callable[..., WixClient], emu: RunningEmulator
) -> None:
    emu.state.faults.inject(None, count=10, drop_connection=True)
    with pytest.raises(WixTransportError) as err:
        make_client().contacts.query_page()
    assert err.value.attempts == 4 and "POST /contacts/v4/contacts/query" in str(err.value)
    # Nothing listening at all: refused connections are retried and then reported the same way.
    dead = WixClient("http://127.0.0.1:9", auth=make_client().auth, retry=FAST_RETRY, rate_limit_per_minute=None)
    with dead, pytest.raises(WixTransportError) as refused:
        dead.contacts.query_page()
    assert refused.value.attempts == 4


def test_the_rate_limiter_spaces_requests(make_client: Callable[..., WixClient]) -> None:
    client = make_client(rate_limiter=RateLimiter(20, per_seconds=1.0, burst=1))  # one every 50 ms
    started = time.monotonic()
    for _ in range(6):
        client.contacts.query_page(limit=1)
    # Six requests at one per 50 ms cannot finish in under 5 intervals, however fast or slow each request is
    # (how much of that the limiter itself waited depends on the machine's load, so it is not asserted).
    assert time.monotonic() - started >= 0.25


def test_cursor_follow_ups_carry_only_the_cursor(emu: RunningEmulator, make_client: Callable[..., WixClient]) -> None:
    reviews = [
        {
            "namespace": "stores",
            "entityId": f"prod-{i % 3}",
            "author": {"contactId": f"00000000-0000-4000-8000-{i:012d}"},
            "content": {"rating": 1 + i % 5, "title": f"t{i}"},
            "moderation": {"moderationStatus": "APPROVED"},
        }
        for i in range(25)
    ]
    emu.state.insert_records("reviews", reviews)
    recorder = RecordingTransport()
    client = make_client(http_transport=recorder)
    query = Query(filter=Filter.in_("entityId", ["prod-0", "prod-1", "prod-2"]), sort=[])
    pages = list(client.reviews.query_pages(query, page_size=10))
    assert [len(p) for p in pages] == [10, 10, 5]
    ids = [i["id"] for p in pages for i in p.items]
    assert len(set(ids)) == 25

    bodies: list[dict[str, Any]] = [orjson.loads(b) for m, p, b in recorder.sent if p == paths.REVIEWS_QUERY]
    assert len(bodies) == 3
    assert bodies[0]["query"]["filter"] == query.filter.to_wire()  # type: ignore[union-attr]
    assert bodies[0]["query"]["cursorPaging"] == {"limit": 10}
    for body, page in zip(bodies[1:], pages, strict=False):
        assert body["query"] == {"cursorPaging": {"cursor": page.next_cursor, "limit": 10}}
    assert pages[-1].next_cursor is None


def test_response_bodies_are_not_left_for_the_cyclic_garbage_collector(emu: RunningEmulator, client: WixClient) -> None:
    """An httpx Response refers to its stream and back, so a body kept in one lives until a full collection, which
    a long-lived process (a Dagster run) seldom makes: a 1M-contact pull held ~300 MB of old pages that way."""
    for i in range(3):
        client.contacts.create({"name": {"first": f"Body{i}"}}, allow_duplicates=True)
    gc.collect()
    gc.disable()
    try:
        pages = [client.contacts.query_page(limit=2, offset=offset) for offset in (0, 2)]
        assert sum(len(page.items) for page in pages) == 3 and all(page.raw for page in pages)
        with pytest.raises(WixNotFoundError):
            client.contacts.get("00000000-0000-4000-8000-000000000000")
        holding = [o for o in gc.get_objects() if isinstance(o, httpx.Response) and hasattr(o, "_content")]
    finally:
        gc.enable()
    assert holding == []
