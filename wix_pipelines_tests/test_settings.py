"""Configuration from the environment: validated once, secrets masked, defaults for the emulator-free case."""

from pathlib import Path

import pytest

from wix_pipelines.settings import ConfigurationError, WixSettings, load_settings

WIX_VARIABLES = (
    "WIX_API_BASE_URL", "WIX_API_KEY", "WIX_SITE_ID", "WIX_ACCOUNT_ID", "WIX_APP_ID", "WIX_APP_SECRET",
    "WIX_INSTANCE_ID", "WIX_WAREHOUSE_PATH", "WIX_SNAPSHOT_PATH", "WIX_RATE_LIMIT_PER_MINUTE",
)  # fmt: skip


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in WIX_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_point_at_wix_and_the_data_folder() -> None:
    settings = WixSettings()
    assert settings.api_base_url == "https://www.wixapis.com"
    assert settings.warehouse_path == Path("data/warehouse.duckdb")
    assert settings.auth_mode == "none"


def test_api_key_is_masked_in_repr_and_str(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIX_API_KEY", "key-that-must-not-leak")
    monkeypatch.setenv("WIX_SITE_ID", "site-1")
    settings = WixSettings()
    assert settings.auth_mode == "api_key"
    assert "key-that-must-not-leak" not in repr(settings) + str(settings)
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "key-that-must-not-leak"


def test_api_key_without_site_or_account_is_rejected_with_the_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIX_API_KEY", "k")
    with pytest.raises(ConfigurationError, match="WIX_SITE_ID"):
        load_settings()


def test_incomplete_oauth_app_names_the_missing_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIX_APP_ID", "app-1")
    monkeypatch.setenv("WIX_APP_SECRET", "secret-value")
    with pytest.raises(ConfigurationError, match="WIX_INSTANCE_ID") as raised:
        load_settings()
    assert "secret-value" not in str(raised.value) + repr(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_oauth_app_takes_precedence_over_an_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"WIX_APP_ID": "a", "WIX_APP_SECRET": "s", "WIX_INSTANCE_ID": "i", "WIX_API_KEY": "k"}.items():
        monkeypatch.setenv(name, value)
    assert WixSettings().auth_mode == "oauth"
