"""The external-system emulator over loopback HTTP and an adapter on it, fresh per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wix_pipelines.emulator.external import RunningExternalEmulator, start_external_emulator
from wix_pipelines.external import HttpExternalAdapter


@pytest.fixture
def external() -> Iterator[RunningExternalEmulator]:
    running = start_external_emulator()
    yield running
    running.stop(wait=False)


@pytest.fixture
def adapter(external: RunningExternalEmulator) -> Iterator[HttpExternalAdapter]:
    with HttpExternalAdapter(external.base_url, external.sync_token, backoff_s=0.01) as a:
        yield a
