"""Fixtures for the client tests: a real emulator over HTTP on 127.0.0.1 and clients pointed at it.

One emulator per module (starting uvicorn costs ~50 ms, seeding nothing costs nothing), reset before each
test, so tests see a clean state and their own scripted faults only. Clients use tiny backoffs so retry tests
stay fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from wix_pipelines.emulator.config import EmulatorConfig
from wix_pipelines.emulator.server import RunningEmulator, running_emulator
from wix_pipelines.wix import ApiKeyAuth, RetryPolicy, WixClient

# Secrets with a recognisable shape, so "never appears in logs" assertions have something to look for.
SECRET_API_KEY = "IST.sk-live-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
SECRET_APP_SECRET = "app-secret-0a1b2c3d4e5f60718293a4b5c6d7e8f9"

FAST_RETRY = RetryPolicy(
    max_attempts=4, max_total_wait_s=5.0, initial_backoff_s=0.01, max_backoff_s=0.05, jitter_s=0.01
)


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[RunningEmulator]:
    config = EmulatorConfig(api_key=SECRET_API_KEY, app_secret=SECRET_APP_SECRET)
    with running_emulator(config) as emulator:
        yield emulator


@pytest.fixture
def emu(shared_emulator: RunningEmulator) -> RunningEmulator:
    shared_emulator.state.reset()
    return shared_emulator


@pytest.fixture
def make_client(emu: RunningEmulator) -> Iterator[Callable[..., WixClient]]:
    """Build API-key clients against ``emu``; keyword arguments override WixClient's."""
    made: list[WixClient] = []

    def make(**kwargs: Any) -> WixClient:
        options: dict[str, Any] = {"retry": FAST_RETRY, "rate_limit_per_minute": None, "timeout": 10.0}
        options.update(kwargs)
        auth = options.pop("auth", None) or ApiKeyAuth(emu.config.api_key, site_id=emu.config.site_id)
        client = WixClient(emu.base_url, auth=auth, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., WixClient]) -> WixClient:
    return make_client()


class RecordingTransport(httpx.HTTPTransport):
    """A real HTTP transport that also keeps (method, path, body) of every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, bytes]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path, request.read()))
        return super().handle_request(request)
