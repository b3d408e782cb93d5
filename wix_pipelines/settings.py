"""Configuration from the environment, validated once.

Everything the project reads from the environment is declared here. The Dagster definitions do not call this
module for secrets (they hand `EnvVar`s to resources so secrets are read at run time, never at import); the CLI,
the demo and the benchmarks use it to build clients outside Dagster.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_API_BASE_URL = "https://www.wixapis.com"
DEFAULT_WAREHOUSE_PATH = Path("data/warehouse.duckdb")
DEFAULT_SNAPSHOT_PATH = Path("data/analytics.duckdb")


class ConfigurationError(ValueError):
    """The environment does not describe a usable Wix connection."""


class WixSettings(BaseSettings):
    """`WIX_*` environment variables. Secrets are `SecretStr`: their repr and str are masked."""

    # hide_input_in_errors: a validation error must not echo the values it was given (they include secrets).
    model_config = SettingsConfigDict(env_prefix="WIX_", extra="ignore", frozen=True, hide_input_in_errors=True)

    api_base_url: str = DEFAULT_API_BASE_URL
    api_key: SecretStr | None = None
    site_id: str | None = None
    account_id: str | None = None
    app_id: str | None = None
    app_secret: SecretStr | None = None
    instance_id: str | None = None
    warehouse_path: Path = DEFAULT_WAREHOUSE_PATH
    snapshot_path: Path = DEFAULT_SNAPSHOT_PATH
    rate_limit_per_minute: int = 200

    @model_validator(mode="after")
    def _one_complete_auth_method(self) -> WixSettings:
        oauth_parts = {
            "WIX_APP_ID": self.app_id,
            "WIX_APP_SECRET": self.app_secret,
            "WIX_INSTANCE_ID": self.instance_id,
        }
        if any(oauth_parts.values()):
            missing = [name for name, value in oauth_parts.items() if not value]
            if missing:
                raise ConfigurationError(f"OAuth app credentials are incomplete: set {', '.join(missing)}")
            return self
        if self.api_key is not None and not (self.site_id or self.account_id):
            raise ConfigurationError("WIX_API_KEY needs WIX_SITE_ID (site-level APIs) or WIX_ACCOUNT_ID")
        return self

    @property
    def auth_mode(self) -> str:
        """`oauth` for app credentials, `api_key` for an API key, `none` when neither is configured."""
        if self.app_id:
            return "oauth"
        return "api_key" if self.api_key is not None else "none"


def load_settings() -> WixSettings:
    """Read and validate the environment; a problem is one `ConfigurationError` naming what to set."""
    try:
        return WixSettings()
    except ValidationError as exc:
        problems = "; ".join(str(error["msg"]).removeprefix("Value error, ") for error in exc.errors())
        raise ConfigurationError(f"invalid Wix configuration: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> WixSettings:
    """The process-wide settings, read and validated on first use."""
    return load_settings()
