"""Shared fixtures: a Wix API emulator over real loopback HTTP, fresh for every test.

* `emulator` — a fresh emulator per test with the small default seed `SMALL_SEED` (20 contacts, 30 reviews,
  30 ratings, 5 review requests, seed 1). Starting one costs ~10 ms, so tests never share state.
* `emulator_factory(**config_kwargs)` — start emulators with any `EmulatorConfig` fields (e.g.
  `contacts=5000`, `webhook_url=...`, `faults=FaultConfig(rate_429=0.2)`); all are stopped at teardown.
* `emulator_http` — an `httpx.Client` on the `emulator` fixture, authenticated with its API key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from wix_pipelines.emulator.config import EmulatorConfig
from wix_pipelines.emulator.server import RunningEmulator, start_emulator

SMALL_SEED: dict[str, Any] = {"seed": 1, "contacts": 20, "reviews": 30, "ratings": 30, "review_requests": 5}


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., RunningEmulator]]:
    started: list[RunningEmulator] = []

    def factory(**config_kwargs: Any) -> RunningEmulator:
        running = start_emulator(EmulatorConfig(**config_kwargs))
        started.append(running)
        return running

    yield factory
    for running in reversed(started):
        running.stop(wait=False)  # skip uvicorn's fixed 0.1 s shutdown pause; threads end on their own


@pytest.fixture
def emulator(emulator_factory: Callable[..., RunningEmulator]) -> RunningEmulator:
    return emulator_factory(**SMALL_SEED)


@pytest.fixture
def emulator_http(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.base_url, headers=emulator.api_key_headers(), timeout=10.0) as client:
        yield client
