"""Dagster resources: the Wix API client and the DuckDB warehouse.

Secrets reach these resources as `dg.EnvVar`s, which Dagster resolves when a run starts, so definitions load with no
secret set and the UI shows only the variable's name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
from pydantic import Field

from wix_pipelines.settings import DEFAULT_API_BASE_URL, DEFAULT_SNAPSHOT_PATH, DEFAULT_WAREHOUSE_PATH
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


def _env_or_default(name: str, default: str) -> str | dg.EnvVar:
    """An EnvVar when the variable is set (resolved at run time), else the default, so loading never fails."""
    return dg.EnvVar(name) if name in os.environ else default


def wix_api_from_env() -> WixApiResource:
    """The resource as the deployment configures it: API key or OAuth app, chosen by which variables exist.

    Only the *names* of secret variables are looked at here; their values are read by Dagster at run time.
    """
    base_url = _env_or_default("WIX_API_BASE_URL", DEFAULT_API_BASE_URL)
    rate_limit = int(os.environ.get("WIX_RATE_LIMIT_PER_MINUTE", "200"))
    if "WIX_APP_ID" in os.environ:
        return WixApiResource(
            base_url=base_url,
            app_id=dg.EnvVar("WIX_APP_ID"),
            app_secret=dg.EnvVar("WIX_APP_SECRET"),
            instance_id=dg.EnvVar("WIX_INSTANCE_ID"),
            rate_limit_per_minute=rate_limit,
        )
    return WixApiResource(
        base_url=base_url,
        api_key=dg.EnvVar("WIX_API_KEY"),
        site_id=_env_or_default("WIX_SITE_ID", "") or None,
        account_id=os.environ.get("WIX_ACCOUNT_ID"),
        rate_limit_per_minute=rate_limit,
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
    return WarehouseResource(
        path=os.environ.get("WIX_WAREHOUSE_PATH", str(DEFAULT_WAREHOUSE_PATH)),
        snapshot_path=os.environ.get("WIX_SNAPSHOT_PATH", str(DEFAULT_SNAPSHOT_PATH)),
    )
