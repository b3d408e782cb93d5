"""Engine-level fixtures: both emulators over loopback, real clients, an in-memory DuckDB warehouse."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import duckdb
import pytest

from wix_pipelines.emulator.config import EmulatorConfig
from wix_pipelines.emulator.external import RunningExternalEmulator, start_external_emulator
from wix_pipelines.emulator.server import RunningEmulator, start_emulator
from wix_pipelines.external import HttpExternalAdapter
from wix_pipelines.sync import SyncConfig, SyncEngine
from wix_pipelines.warehouse import ensure_schema
from wix_pipelines.wix import RetryPolicy, WixClient


@dataclass
class Sides:
    wix: RunningEmulator
    external: RunningExternalEmulator
    client: WixClient
    adapter: HttpExternalAdapter
    con: duckdb.DuckDBPyConnection
    runs: int = 0

    def engine(self, config: SyncConfig | None = None, *, dry_run: bool = False) -> SyncEngine:
        self.runs += 1
        return SyncEngine(
            self.client, self.adapter, self.con, config or SyncConfig(), run_id=f"run-{self.runs}", dry_run=dry_run
        )


@pytest.fixture
def sides_factory() -> Iterator[Callable[..., Sides]]:
    made: list[Sides] = []

    def make(**wix_config: object) -> Sides:
        wix = start_emulator(EmulatorConfig(**wix_config))  # type: ignore[arg-type]
        external = start_external_emulator()
        client = WixClient.from_api_key(
            wix.config.api_key,
            site_id=wix.config.site_id,
            base_url=wix.base_url,
            rate_limit_per_minute=0,
            retry=RetryPolicy(max_attempts=1),
        )
        adapter = HttpExternalAdapter(external.base_url, external.sync_token, backoff_s=0.0)
        con = duckdb.connect(":memory:")
        ensure_schema(con)
        sides = Sides(wix, external, client, adapter, con)
        made.append(sides)
        return sides

    yield make
    for sides in made:
        sides.con.close()
        sides.client.close()
        sides.adapter.close()
        sides.external.stop(wait=False)
        sides.wix.stop(wait=False)


@pytest.fixture
def sides(sides_factory: Callable[..., Sides]) -> Sides:
    return sides_factory()
