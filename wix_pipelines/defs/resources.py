"""Dagster resources: the Wix API client and the DuckDB warehouse.

Secrets reach these resources as `dg.EnvVar`s, which Dagster resolves when a run starts, so definitions load with no
secret set and the UI shows only the variable's name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
from pydantic import Field

from wix_pipelines.settings import DEFAULT_API_BASE_URL, DEFAULT_SNAPSHOT_PATH, DEFAULT_WAREHOUSE_PATH, get_settings
from wix_pipelines.warehouse import Warehouse, publish_snapshot
from wix_pipelines.wix import WixClient
from wix_pipelines.wix.transport import RetryPolicy


class WixApiResource(dg.ConfigurableResource):
    """A Wix site reached with an API key (`WIX_API_KEY` + `WIX_SITE_ID`) or as an OAuth app."""

    base_url: str = Field(default=DEFAULT_API_BASE_URL, description="Wix REST base URL, or the emulator's.")
    api_key: str | None = Field(default=None, description="API key; pass as EnvVar('WIX_API_KEY').")
    site_id: str | None = None
    account_id: str | None = None
    app_id: str | None = None
    app_secret: str | None = Field(default=None, description="OAuth app secret; pass as EnvVar('WIX_APP_SECRET').")
    instance_id: str | None = None
    rate_limit_per_minute: int = Field(default=200, description="Client-side limit; Wix allows 200/min per site.")
    timeout_s: float = 30.0
    retry_max_attempts: int = Field(default=6, description="Attempts per request on 429, 5xx and network errors.")
    retry_max_wait_s: float = Field(default=120.0, description="Total time one request may spend waiting to retry.")

    @contextmanager
    def get_client(self) -> Iterator[WixClient]:
        common: dict[str, Any] = {
            "base_url": self.base_url,
            "rate_limit_per_minute": self.rate_limit_per_minute,
            "timeout": self.timeout_s,
            "retry": RetryPolicy(max_attempts=self.retry_max_attempts, max_total_wait_s=self.retry_max_wait_s),
        }
        if self.app_id:
            if not (self.app_secret and self.instance_id):
                raise ValueError("OAuth needs app_secret and instance_id besides app_id")
            client = WixClient.from_oauth_app(self.app_id, self.app_secret, self.instance_id, **common)
        elif self.api_key:
            client = WixClient.from_api_key(self.api_key, site_id=self.site_id, account_id=self.account_id, **common)
        else:
            raise ValueError("set WIX_API_KEY (and WIX_SITE_ID) or the WIX_APP_* variables")
        with client:
            yield client


def wix_api_from_env() -> WixApiResource:
    """The resource as the environment configures it: API key or OAuth app, chosen by which variables exist.

    `WixSettings` validates the environment once (a half-configured OAuth app fails here, at load, not mid-run);
    secret values are never copied from it: they are handed over as `EnvVar`s that Dagster reads at run time.
    """
    settings = get_settings()
    common: dict[str, Any] = {
        "base_url": settings.api_base_url,
        "rate_limit_per_minute": settings.rate_limit_per_minute,
    }
    if settings.auth_mode == "oauth":
        return WixApiResource(
            **common,
            app_id=settings.app_id,
            app_secret=dg.EnvVar("WIX_APP_SECRET"),
            instance_id=settings.instance_id,
        )
    return WixApiResource(
        **common, api_key=dg.EnvVar("WIX_API_KEY"), site_id=settings.site_id, account_id=settings.account_id
    )


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file and the read-only snapshot published for analysts after each write."""

    path: str = Field(default=str(DEFAULT_WAREHOUSE_PATH), description="The read-write warehouse file.")
    snapshot_path: str = Field(default=str(DEFAULT_SNAPSHOT_PATH), description="The file analysts open.")
    lock_timeout_s: float = Field(
        default=900.0,
        description="How long a writer outside the Dagster pool (e.g. a CLI run) waits for the file lock.",
    )

    def get(self) -> Warehouse:
        return Warehouse(self.path, lock_timeout=self.lock_timeout_s)

    def publish_snapshot(self) -> None:
        publish_snapshot(self.path, self.snapshot_path, lock_timeout=self.lock_timeout_s)


def warehouse_from_env() -> WarehouseResource:
    settings = get_settings()
    return WarehouseResource(path=str(settings.warehouse_path), snapshot_path=str(settings.snapshot_path))
