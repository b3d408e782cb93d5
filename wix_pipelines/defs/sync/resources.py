"""Resources of the sync: the external system (token as an EnvVar) and the sync settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from pydantic import Field

from wix_pipelines.external import ExternalAdapter, HttpExternalAdapter
from wix_pipelines.sync.config import SyncConfig, load_sync_config
from wix_pipelines.webhooks.inbox import DEFAULT_INBOX_PATH


class ExternalSystemResource(dg.ConfigurableResource):
    """The external CRM / eCommerce system, reached with the HTTP adapter."""

    base_url: str = Field(description="Base URL of the external system's API (or its emulator).")
    token: str = Field(description="Bearer token; pass as EnvVar('EXTERNAL_API_TOKEN').")
    name: str = "acme-crm"
    max_attempts: int = Field(default=3, description="Attempts per call on 5xx/429/network errors.")
    timeout_s: float = 10.0

    @contextmanager
    def get_adapter(self) -> Iterator[ExternalAdapter]:
        with HttpExternalAdapter(
            self.base_url, self.token, name=self.name, max_attempts=self.max_attempts, timeout=self.timeout_s
        ) as adapter:
            yield adapter


class SyncSettingsResource(dg.ConfigurableResource):
    """Where the sync's config file and the webhook inbox are, and whether pushes are dry runs."""

    config_path: str | None = Field(default=None, description="TOML/JSON sync config (defaults when unset).")
    inbox_path: str = Field(default=str(DEFAULT_INBOX_PATH), description="The webhook receiver's inbox file.")
    dry_run: bool = Field(default=False, description="Write the diff to sync_diffs without pushing anything.")
    batch_size: int = Field(default=500, description="Most inbox events / external changes one run handles.")

    def load(self, *, wix_app_id: str | None = None) -> SyncConfig:
        config = load_sync_config(self.config_path)
        if config.sync_app_id is None and wix_app_id:
            # Acting as an OAuth app: webhooks carrying that app's identity are our own writes.
            config = config.model_copy(update={"sync_app_id": wix_app_id})
        return config


def external_from_env() -> ExternalSystemResource:
    """Only variable *names* are read at import; the token's value is resolved by Dagster at run time."""
    return ExternalSystemResource(
        base_url=dg.EnvVar("EXTERNAL_API_BASE_URL")
        if "EXTERNAL_API_BASE_URL" in os.environ
        else "http://127.0.0.1:8766",
        token=dg.EnvVar("EXTERNAL_API_TOKEN"),
    )


def sync_settings_from_env() -> SyncSettingsResource:
    return SyncSettingsResource(
        config_path=os.environ.get("WIX_SYNC_CONFIG"),
        inbox_path=os.environ.get("WIX_WEBHOOK_INBOX", str(DEFAULT_INBOX_PATH)),
        dry_run=os.environ.get("WIX_SYNC_DRY_RUN", "").lower() in ("1", "true", "yes"),
    )
