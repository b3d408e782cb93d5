"""Both emulators, the webhook receiver and real Dagster sensors and jobs wired together for sync tests.

Nothing here is a mock: the Wix emulator POSTs signed webhooks to the receiver over loopback, the receiver
writes the SQLite inbox, the sensors are evaluated with ``build_sensor_context`` on a real ``DagsterInstance``,
and the run requests they return are executed as jobs against DuckDB files in ``tmp_path``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx

from wix_pipelines.defs.resources import WarehouseResource, WixApiResource
from wix_pipelines.defs.sync import (
    ExternalSystemResource,
    SyncSettingsResource,
    external_change_feed_sensor,
    external_to_wix_job,
    sync_reconcile_job,
    wix_to_external_job,
    wix_webhook_inbox_sensor,
)
from wix_pipelines.emulator.config import EmulatorConfig
from wix_pipelines.emulator.external import RunningExternalEmulator, start_external_emulator
from wix_pipelines.emulator.server import RunningEmulator, start_emulator
from wix_pipelines.webhooks import RunningReceiver, WebhookInbox, WebhookReceiver, start_webhook_receiver

CRM_USER = "crm-user"


@dataclass
class Tick:
    runs: list[dg.ExecuteInProcessResult] = field(default_factory=list)
    skip_reason: str | None = None


@dataclass
class SyncHarness:
    wix: RunningEmulator
    external: RunningExternalEmulator
    receiver: RunningReceiver
    instance: dg.DagsterInstance
    tmp_path: Path
    external_max_attempts: int = 3
    dry_run: bool = False
    config_path: str | None = None
    wix_cursor: str | None = None
    external_cursor: str | None = None
    run_keys: list[str] = field(default_factory=list)
    failed: list[tuple[dg.JobDefinition, dg.RunRequest]] = field(default_factory=list)

    # ------------------------------------------------------------------------------------------- resources

    @property
    def warehouse_path(self) -> Path:
        return self.tmp_path / "warehouse.duckdb"

    def resources(self) -> dict[str, Any]:
        cfg = self.wix.config
        return {
            # The sync acts as the OAuth app, so its own writes come back with the app's identity.
            "wix": WixApiResource(
                base_url=self.wix.base_url,
                app_id=cfg.app_id,
                app_secret=cfg.app_secret,
                instance_id=cfg.instance_id,
                rate_limit_per_minute=0,
                retry_max_attempts=1,
                retry_max_wait_s=1.0,
            ),
            "warehouse": WarehouseResource(
                path=str(self.warehouse_path), snapshot_path=str(self.tmp_path / "analytics.duckdb")
            ),
            "external": ExternalSystemResource(
                base_url=self.external.base_url,
                token=self.external.sync_token,
                max_attempts=self.external_max_attempts,
            ),
            "sync_settings": SyncSettingsResource(
                inbox_path=str(self.receiver.receiver.inbox.path), dry_run=self.dry_run, config_path=self.config_path
            ),
        }

    # --------------------------------------------------------------------------------------------- ticks

    def deliver(self) -> None:
        assert self.wix.state.dispatcher.wait_idle(10), "webhooks were not delivered"

    def _run(
        self, job: dg.JobDefinition, request: dg.RunRequest, raise_on_error: bool, retry_of: str | None = None
    ) -> dg.ExecuteInProcessResult:
        if retry_of is None:
            assert request.run_key not in self.run_keys, f"run key {request.run_key} reused"
            self.run_keys.append(request.run_key or "")
        tags = {**request.tags, "dagster/run_key": request.run_key or ""}
        if retry_of is not None:
            tags["dagster/parent_run_id"] = retry_of
        result = job.execute_in_process(
            run_config=request.run_config,
            instance=self.instance,
            resources=self.resources(),
            tags=tags,
            raise_on_error=raise_on_error and retry_of is None,
        )
        if not result.success:
            self.failed.append((job, request))
        return result

    def retry_failed(self) -> list[dg.ExecuteInProcessResult]:
        """What Dagster's run retries do for a failed run (the jobs carry ``dagster/max_retries``): run the
        same job with the same config again. The sensor cursor has moved on, as it does in Dagster."""
        failed, self.failed = self.failed, []
        return [self._run(job, request, raise_on_error=False, retry_of=request.run_key) for job, request in failed]

    def tick_wix(self, raise_on_error: bool = True) -> Tick:
        self.deliver()
        context = dg.build_sensor_context(instance=self.instance, cursor=self.wix_cursor, resources=self.resources())
        result = wix_webhook_inbox_sensor(context)
        if isinstance(result, dg.SkipReason):
            return Tick(skip_reason=result.skip_message)
        self.wix_cursor = result.cursor
        return Tick([self._run(wix_to_external_job, r, raise_on_error) for r in result.run_requests or []])

    def tick_external(self, raise_on_error: bool = True) -> Tick:
        context = dg.build_sensor_context(
            instance=self.instance, cursor=self.external_cursor, resources=self.resources()
        )
        result = external_change_feed_sensor(context)
        if isinstance(result, dg.SkipReason):
            return Tick(skip_reason=result.skip_message)
        self.external_cursor = result.cursor
        return Tick([self._run(external_to_wix_job, r, raise_on_error) for r in result.run_requests or []])

    def settle(self, max_rounds: int = 8) -> int:
        """Tick both sensors until neither launches a run; returns the number of runs. Fails on a loop."""
        runs = 0
        for _ in range(max_rounds):
            launched = len(self.tick_wix().runs) + len(self.tick_external().runs)
            runs += launched
            if launched == 0:
                return runs
        raise AssertionError(f"the sync did not settle in {max_rounds} rounds: events keep coming back (a loop)")

    def pull_wix(self) -> dg.ExecuteInProcessResult:
        """The ingestion's own pull of contacts, reviews and ratings into the warehouse (issue 3's assets)."""
        from wix_pipelines.defs.ingest.assets import pull_assets

        resources = {key: value for key, value in self.resources().items() if key in ("wix", "warehouse")}
        return dg.materialize(
            pull_assets, resources=resources, selection=["contacts", "reviews", "ratings"], instance=self.instance
        )

    def wix_api_calls(self) -> int:
        """Requests to the Wix data APIs (the OAuth token endpoint left out)."""
        requests = self.wix.state.stats.snapshot()["requests"]
        return sum(n for route, n in requests.items() if "oauth" not in route)

    def reconcile(self, **config: Any) -> dg.ExecuteInProcessResult:
        return sync_reconcile_job.execute_in_process(
            run_config={"ops": {"reconcile_sync": {"config": config}}},
            instance=self.instance,
            resources=self.resources(),
        )

    # ----------------------------------------------------------------------------------------- acting

    @contextmanager
    def wix_user(self) -> Iterator[httpx.Client]:
        """A person using Wix (API key: their writes carry a WIX_USER identity, not the sync app's)."""
        with httpx.Client(base_url=self.wix.base_url, headers=self.wix.api_key_headers(), timeout=10) as client:
            yield client

    def ext_create(self, kind: str, **fields: Any) -> str:
        return str(self.external.state.create(kind, fields, actor=CRM_USER)["id"])

    def ext_update(self, kind: str, record_id: str, **fields: Any) -> None:
        self.external.state.update(kind, record_id, fields, actor=CRM_USER)

    def ext_delete(self, kind: str, record_id: str) -> None:
        self.external.state.delete(kind, record_id, actor=CRM_USER)

    # ----------------------------------------------------------------------------------------- counting

    def wix_writes(self) -> int:
        return self.wix.state.stats.writes

    def external_sync_writes(self) -> int:
        return self.external.state.write_count(actor="wix-sync")

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.warehouse_path), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()


@contextmanager
def sync_harness(tmp_path: Path, **wix_config: Any) -> Iterator[SyncHarness]:
    inbox = WebhookInbox(tmp_path / "webhooks" / "inbox.sqlite3")
    wix = start_emulator(EmulatorConfig(**wix_config))
    receiver = start_webhook_receiver(WebhookReceiver(inbox, wix.public_key_pem, app_id=wix.config.app_id))
    wix.state.set_webhook_url(receiver.url)
    external = start_external_emulator()
    try:
        # An ephemeral instance (in-memory run storage): a real DagsterInstance, minus seconds of SQLite I/O.
        with dg.DagsterInstance.ephemeral() as instance:
            yield SyncHarness(wix, external, receiver, instance, tmp_path)
    finally:
        receiver.stop()
        external.stop(wait=False)
        wix.stop(wait=False)
