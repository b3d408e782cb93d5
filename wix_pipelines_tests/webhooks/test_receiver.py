"""The webhook receiver over real HTTP: what it accepts into the inbox and what it turns away."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from wix_pipelines.emulator import webhooks as wix_hooks
from wix_pipelines.emulator.server import RunningEmulator
from wix_pipelines.webhooks import RunningReceiver, WebhookInbox, WebhookReceiver, start_webhook_receiver


@pytest.fixture
def receiver(tmp_path: Path, emulator: RunningEmulator) -> Iterator[RunningReceiver]:
    inbox = WebhookInbox(tmp_path / "webhooks" / "inbox.sqlite3")
    running = start_webhook_receiver(WebhookReceiver(inbox, emulator.public_key_pem, app_id=emulator.config.app_id))
    emulator.state.set_webhook_url(running.url)
    yield running
    running.stop()


def signed(
    emulator: RunningEmulator,
    *,
    key: rsa.RSAPrivateKey | None = None,
    iat: int | None = None,
    event_id: str | None = None,
) -> str:
    event = wix_hooks.build_event("wix.contacts.v4.contact", "deleted", "c-1", is_deleted=True, event_id=event_id)
    envelope = wix_hooks.build_envelope(
        "wix.contacts.v4.contact_deleted",
        event,
        {"identityType": "WIX_USER", "wixUserId": "u"},
        instance_id="i",
        account_id="a",
        site_id="s",
    )
    return wix_hooks.sign_envelope(envelope, key or emulator.state.private_key, emulator.config.app_id, iat=iat)


def tampered(token: str) -> str:
    """Change one character of the payload: still valid base64, no longer what was signed."""
    header, payload, signature = token.split(".")
    middle = len(payload) // 2
    swapped = "B" if payload[middle] != "B" else "C"
    return ".".join((header, payload[:middle] + swapped + payload[middle + 1 :], signature))


def post(receiver: RunningReceiver, body: str | bytes) -> httpx.Response:
    return httpx.post(receiver.url, content=body, headers={"Content-Type": "text/plain"}, timeout=5)


def test_events_emitted_by_wix_land_in_the_inbox_in_order(emulator: RunningEmulator, receiver: RunningReceiver) -> None:
    with httpx.Client(base_url=emulator.base_url, headers=emulator.api_key_headers()) as wix:
        created = wix.post("/contacts/v4/contacts", json={"info": {"name": {"first": "Ada"}}}).json()["contact"]
        wix.delete(f"/contacts/v4/contacts/{created['id']}")
    assert emulator.state.dispatcher.wait_idle(10)
    events = receiver.receiver.inbox.read()
    assert [(e.slug, e.entity_id) for e in events] == [("created", created["id"]), ("deleted", created["id"])]
    assert [e.seq for e in events] == [1, 2]
    assert (
        events[0].identity == {"identityType": "WIX_USER", "wixUserId": emulator.state.api_key_identity_user}
        if hasattr(emulator.state, "api_key_identity_user")
        else events[0].identity["identityType"] == "WIX_USER"
    )
    assert events[0].event.data.created_event is not None


def test_valid_event_is_answered_200_with_empty_object(emulator: RunningEmulator, receiver: RunningReceiver) -> None:
    response = post(receiver, signed(emulator))
    assert (response.status_code, response.json()) == (200, {})
    assert receiver.receiver.inbox.max_seq() == 1


@pytest.mark.parametrize(
    ("make_body", "statuses", "reasons"),
    [
        (
            lambda em: signed(em, key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            {401},
            {"bad_signature"},
        ),
        (lambda em: signed(em, iat=int(time.time()) - 3600), {401}, {"expired"}),
        (lambda em: tampered(signed(em)), {401}, {"bad_signature"}),
        # A cut-off signature is undecodable or merely wrong, depending on where the cut falls.
        (lambda em: signed(em)[:-20], {400, 401}, {"malformed", "bad_signature"}),
        (lambda em: signed(em)[: len(signed(em)) // 2], {400}, {"malformed"}),
        (lambda em: "not a jwt", {400}, {"malformed"}),
        (lambda em: "", {400}, {"malformed"}),
        (lambda em: "x" * 1_000_001, {413}, {"too_large"}),
    ],
    ids=[
        "forged",
        "expired",
        "tampered-payload",
        "truncated-signature",
        "truncated-half",
        "not-a-jwt",
        "empty",
        "too-large",
    ],
)
def test_untrustworthy_bodies_are_rejected_and_nothing_is_stored(
    emulator: RunningEmulator,
    receiver: RunningReceiver,
    make_body: Callable[[RunningEmulator], str],
    statuses: set[int],
    reasons: set[str],
) -> None:
    response = post(receiver, make_body(emulator))
    assert response.status_code in statuses
    assert response.json()["error"]["reason"] in reasons
    assert receiver.receiver.inbox.max_seq() == 0


def test_replayed_event_id_is_rejected_with_409(emulator: RunningEmulator, receiver: RunningReceiver) -> None:
    token = signed(emulator, event_id="evt-1")
    assert post(receiver, token).status_code == 200
    replay = post(receiver, token)
    assert (replay.status_code, replay.json()["error"]["reason"]) == (409, "replayed")
    # A fresh signature does not launder the same event id either.
    assert post(receiver, signed(emulator, event_id="evt-1")).status_code == 409
    assert receiver.receiver.inbox.max_seq() == 1


def test_wrong_audience_is_rejected_when_an_app_id_is_configured(emulator: RunningEmulator, tmp_path: Path) -> None:
    inbox = WebhookInbox(tmp_path / "inbox.sqlite3")
    other_app = WebhookReceiver(inbox, emulator.public_key_pem, app_id="another-app")
    assert other_app.accept(signed(emulator)).reason == "bad_claims"
    assert inbox.max_seq() == 0


def test_public_key_may_be_base64_of_the_pem(emulator: RunningEmulator, tmp_path: Path) -> None:
    b64 = base64.b64encode(emulator.public_key_pem.encode()).decode()
    receiver = WebhookReceiver(WebhookInbox(tmp_path / "inbox.sqlite3"), b64)
    assert receiver.accept(signed(emulator)).status == 200


def test_cli_serves_the_endpoint_with_the_key_from_a_file(emulator: RunningEmulator, tmp_path: Path) -> None:
    key_file = tmp_path / "wix.pem"
    key_file.write_text(emulator.public_key_pem)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox_path = tmp_path / "data" / "webhooks" / "inbox.sqlite3"
    env = {**os.environ, "WIX_WEBHOOK_PUBLIC_KEY": str(key_file), "WIX_WEBHOOK_INBOX": str(inbox_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "wix_pipelines.cli", "webhooks", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/webhooks/wix"
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.post(url, content=signed(emulator), timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert response.status_code == 200
        assert httpx.post(url, content="garbage", timeout=2).status_code == 400
        assert WebhookInbox(inbox_path).max_seq() == 1
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
