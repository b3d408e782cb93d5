"""Where alerts go: a Slack-compatible incoming webhook (JSON POST) and an append-only JSONL outbox.

A channel either delivers an alert or raises `DeliveryError`; it never retries by itself. Retrying is the
delivery loop's and Dagster's job, so every attempt is counted in the ledger and visible in the UI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import httpx
import orjson

from .model import Alert, slack_message


class DeliveryError(Exception):
    """The channel did not take the alert; it stays pending and is retried."""


class Channel(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...

    def already_delivered(self) -> set[str]:
        """Alert ids the channel itself shows as delivered (reconciled into the ledger before sending)."""
        ...


class WebhookChannel:
    """POST `{"text": ...}` to an incoming-webhook URL; any 2xx is a delivery.

    A webhook has no idempotency key, so this channel is at-least-once in one narrow case: the process dies
    between the 2xx and the ledger commit right after it. Everything else is exactly once.
    """

    name = "webhook"

    def __init__(self, url: str, *, timeout: float = 10.0, client: httpx.Client | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("the alerts webhook URL must start with http:// or https://")
        self._url = url
        self._client = client or httpx.Client(timeout=timeout)
        self._owns_client = client is None

    def __repr__(self) -> str:
        return "WebhookChannel(<url hidden>)"  # the URL is the secret

    def send(self, alert: Alert) -> None:
        try:
            response = self._client.post(self._url, json=slack_message(alert))
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook unreachable for alert {alert.alert_id}: {type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise DeliveryError(
                f"webhook answered HTTP {response.status_code} for alert {alert.alert_id}: {response.text[:200]!r}"
            )

    def already_delivered(self) -> set[str]:
        return set()  # a webhook cannot be asked what it received

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


class OutboxChannel:
    """Append one JSON line per alert to a file (e.g. data/alerts/outbox.jsonl) that other tools tail.

    Exactly once: the file is also the channel's own record, so ids already in it count as delivered even if
    the ledger commit after the write was lost. Lines are flushed and fsynced before the ledger commit.
    """

    name = "outbox"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def send(self, alert: Alert) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            line = orjson.dumps(alert.as_record()) + b"\n"
            with open(self.path, "ab") as fh:
                # A crash mid-write can leave a torn last line; start on a fresh one so this line stays whole.
                if fh.tell() > 0 and not self._ends_with_newline():
                    fh.write(b"\n")
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise DeliveryError(f"cannot append alert {alert.alert_id} to {self.path}: {exc}") from exc

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"

    def already_delivered(self) -> set[str]:
        if not self.path.exists():
            return set()
        ids: set[str] = set()
        with open(self.path, "rb") as fh:
            for raw in fh:
                try:
                    alert_id = orjson.loads(raw).get("alert_id")
                except orjson.JSONDecodeError:
                    continue  # a torn line from a crash: its alert is not delivered and will be written again
                if isinstance(alert_id, str):
                    ids.add(alert_id)
        return ids
