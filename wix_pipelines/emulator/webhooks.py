"""Wix-shaped webhooks (SPEC.md §2.8): RS256 JWT bodies, envelope with JSON-string members, ordered delivery.

`build_event`, `build_envelope` and `sign_envelope` are public so tests can forge, replay, duplicate or reorder
events themselves; the emulator keeps every event it emits (envelope and JWT) on `state.events`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from typing import Any

import httpx
import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wix_pipelines.emulator.timeutil import now_iso

log = logging.getLogger(__name__)

_key_lock = threading.Lock()
_process_key: rsa.RSAPrivateKey | None = None

JWT_TTL_S = 300
DELIVERY_ATTEMPTS = 4
DELIVERY_BACKOFF_S = (0.2, 0.5, 1.0)


def process_private_key() -> rsa.RSAPrivateKey:
    """One RSA key per process, generated on first use.

    Generating a 2048-bit key takes ~0.1 s; tests start dozens of emulators, so they share it. A separate
    emulator process (the CLI) has its own key.
    """
    global _process_key
    with _key_lock:
        if _process_key is None:
            _process_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _process_key


def public_key_pem(private_key: rsa.RSAPrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def build_event(
    entity_fqdn: str,
    slug: str,
    entity_id: str,
    *,
    created: dict[str, Any] | None = None,
    updated: dict[str, Any] | None = None,
    deleted: dict[str, Any] | None = None,
    is_deleted: bool = False,
    action: dict[str, Any] | None = None,
    originated_from: str | None = None,
    sequence: int | None = None,
    event_time: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """The domain event (the inner `data`): exactly one of created/updated/deleted/action members."""
    event: dict[str, Any] = {
        "id": event_id or str(uuid.uuid4()),
        "entityFqdn": entity_fqdn,
        "slug": slug,
        "entityId": entity_id,
        "eventTime": event_time or now_iso(),
        "triggeredByAnonymizeRequest": False,
    }
    if created is not None:
        event["createdEvent"] = {"entity": created}
    elif updated is not None:
        event["updatedEvent"] = {"currentEntity": updated}
    elif is_deleted or deleted is not None:
        event["deletedEvent"] = {"deletedEntity": deleted} if deleted is not None else {}
    elif action is not None:
        event["actionEvent"] = {"body": action}
    else:
        raise ValueError("build_event needs one of created, updated, deleted/is_deleted or action")
    if originated_from:
        event["originatedFrom"] = originated_from
    if sequence is not None:
        event["entityEventSequence"] = str(sequence)
    return event


def build_envelope(
    event_type: str,
    domain_event: dict[str, Any],
    identity: dict[str, Any],
    *,
    instance_id: str,
    account_id: str,
    site_id: str,
) -> dict[str, Any]:
    """The webhook envelope; `identity` and `data` are JSON strings as Wix sends them."""
    return {
        "instanceId": instance_id,
        "eventType": event_type,
        "identity": orjson.dumps(identity).decode(),
        "data": orjson.dumps(domain_event).decode(),
        "accountInfo": {"accountId": account_id, "siteId": site_id},
    }


def sign_envelope(
    envelope: dict[str, Any],
    private_key: rsa.RSAPrivateKey,
    app_id: str,
    *,
    iat: int | None = None,
    ttl_s: int = JWT_TTL_S,
) -> str:
    """Compact RS256 JWT whose `data` claim is the envelope as a JSON string."""
    issued = int(time.time()) if iat is None else iat
    claims = {
        "data": orjson.dumps(envelope).decode(),
        "iat": issued,
        "exp": issued + ttl_s,
        "iss": "wix.com",
        "aud": app_id,
    }
    return jwt.encode(claims, private_key, algorithm="RS256")


def decode_webhook(token: str, public_pem: str, app_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a webhook JWT and return (envelope, domain event) — a helper for tests and receivers."""
    claims = jwt.decode(token, public_pem, algorithms=["RS256"], audience=app_id, issuer="wix.com")
    envelope = orjson.loads(claims["data"])
    return envelope, orjson.loads(envelope["data"])


class WebhookDispatcher:
    """POSTs signed events to one URL from a background thread, in emission order, with a few retries."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.delivered = 0
        self.failed: list[tuple[str, str]] = []  # (jwt, last error)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()

    def submit(self, token: str) -> None:
        if not self.url:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="emulator-webhooks", daemon=True)
                self._thread.start()
        self._idle.clear()
        self._queue.put(token)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every submitted event was delivered or gave up (tests use it)."""
        return self._idle.wait(timeout)

    def stop(self) -> None:
        with self._lock:
            thread = self._thread
            self._thread = None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=5)

    def _run(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            while True:
                token = self._queue.get()
                if token is None:
                    return
                self._deliver(client, token)
                if self._queue.empty():
                    self._idle.set()

    def _deliver(self, client: httpx.Client, token: str) -> None:
        error = ""
        for attempt in range(DELIVERY_ATTEMPTS):
            url = self.url
            if not url:
                return
            try:
                response = client.post(url, content=token, headers={"Content-Type": "text/plain"})
                if response.status_code < 300:
                    self.delivered += 1
                    return
                error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            if attempt < len(DELIVERY_BACKOFF_S):
                time.sleep(DELIVERY_BACKOFF_S[attempt])
        log.warning("webhook to %s gave up after %d attempts: %s", self.url, DELIVERY_ATTEMPTS, error)
        self.failed.append((token, error))
