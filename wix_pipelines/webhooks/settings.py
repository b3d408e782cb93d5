"""Receiver configuration from the environment: the app's public key, the inbox path, the app id."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from .inbox import DEFAULT_INBOX_PATH


class ReceiverSettings(BaseSettings):
    """``WIX_WEBHOOK_PUBLIC_KEY`` (PEM text, base64 of the PEM, or a path to a PEM file), ``WIX_WEBHOOK_INBOX``,
    and ``WIX_APP_ID`` (optional: when set, ``aud``/``iss`` are checked too)."""

    model_config = SettingsConfigDict(env_prefix="WIX_", extra="ignore")

    webhook_public_key: str | None = None
    webhook_inbox: Path = DEFAULT_INBOX_PATH
    app_id: str | None = None

    def public_key_pem(self) -> str:
        value = (self.webhook_public_key or "").strip()
        if not value:
            raise ValueError("set WIX_WEBHOOK_PUBLIC_KEY to the app's webhook public key (PEM, base64 PEM or a path)")
        return read_public_key(value)


def read_public_key(value: str) -> str:
    """PEM text as given, or read from a file when ``value`` names one (the PEM may also be base64)."""
    if not value.startswith("-----BEGIN") and len(value) < 4096:
        candidate = Path(value).expanduser()
        try:
            if candidate.is_file():
                return candidate.read_text()
        except OSError:
            pass  # not a usable path: treat the value as the key itself
    return value
