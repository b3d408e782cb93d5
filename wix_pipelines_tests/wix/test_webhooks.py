"""Webhook verification: good tokens parse into typed events; forged, expired, truncated ones are refused."""

from __future__ import annotations

import base64
import time
from typing import Any

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wix_pipelines.wix import Contact, WebhookVerificationError, verify_and_parse_webhook

APP_ID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"


@pytest.fixture(scope="module")
def keys() -> tuple[rsa.RSAPrivateKey, str, rsa.RSAPrivateKey]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, pem, other


def _envelope() -> dict[str, Any]:
    event = {
        "id": "0f1e2d3c-aaaa-4bbb-8ccc-ddddeeeeffff",
        "entityFqdn": "wix.contacts.v4.contact",
        "slug": "created",
        "entityId": "c-1",
        "eventTime": "2024-03-04T09:15:27.512Z",
        "entityEventSequence": "3",
        "createdEvent": {"entity": {"id": "c-1", "revision": 1, "info": {"name": {"first": "Dana"}}, "brandNew": True}},
    }
    return {
        "instanceId": "6a5b4c3d-1111-4222-8333-444455556666",
        "eventType": "wix.contacts.v4.contact_created",
        "identity": orjson.dumps({"identityType": "APP", "appId": APP_ID}).decode(),
        "data": orjson.dumps(event).decode(),
        "accountInfo": {"accountId": "acc-1", "siteId": "site-1"},
    }


def _sign(private: rsa.RSAPrivateKey, *, ttl: int = 300, iat: int | None = None, **extra: Any) -> str:
    issued = int(time.time()) if iat is None else iat
    claims = {"data": orjson.dumps(_envelope()).decode(), "iat": issued, "exp": issued + ttl, **extra}
    return jwt.encode(claims, private, algorithm="RS256")


def test_a_signed_webhook_parses_into_typed_envelope_identity_and_event(keys: Any) -> None:
    private, pem, _ = keys
    event = verify_and_parse_webhook(_sign(private, iss="wix.com", aud=APP_ID), pem, app_id=APP_ID)
    assert event.event_type == "wix.contacts.v4.contact_created"
    assert event.identity is not None and event.identity.identity_type == "APP"
    assert event.identity.app_id == APP_ID
    assert event.account_info is not None and event.account_info.site_id == "site-1"
    assert event.data.kind == "created" and event.data.entity_event_sequence == "3"
    contact = event.data.entity_model()
    assert isinstance(contact, Contact) and contact.name is not None and contact.name.first == "Dana"
    assert contact.model_extra == {"brandNew": True}
    assert event.claims["aud"] == APP_ID


def test_the_public_key_may_be_given_as_base64_of_the_pem(keys: Any) -> None:
    private, pem, _ = keys
    b64 = base64.b64encode(pem.encode()).decode()
    assert verify_and_parse_webhook(_sign(private), b64).data.entity_id == "c-1"


def test_a_forged_signature_is_refused(keys: Any) -> None:
    _, pem, other = keys
    with pytest.raises(WebhookVerificationError) as err:
        verify_and_parse_webhook(_sign(other), pem)
    assert err.value.reason == "bad_signature"


def test_an_expired_token_is_refused(keys: Any) -> None:
    private, pem, _ = keys
    token = _sign(private, ttl=10, iat=int(time.time()) - 3600)
    with pytest.raises(WebhookVerificationError) as err:
        verify_and_parse_webhook(token, pem, leeway=5)
    assert err.value.reason == "expired"


@pytest.mark.parametrize("cut", [1, 20, 200])
def test_a_truncated_token_is_refused(keys: Any, cut: int) -> None:
    private, pem, _ = keys
    token = _sign(private)
    with pytest.raises(WebhookVerificationError) as err:
        verify_and_parse_webhook(token[:-cut], pem)
    assert err.value.reason in {"malformed", "bad_signature"}
    assert token[:40] not in str(err.value)  # the token is never echoed


def test_a_wrong_audience_is_refused_when_the_app_id_is_checked(keys: Any) -> None:
    private, pem, _ = keys
    with pytest.raises(WebhookVerificationError) as err:
        verify_and_parse_webhook(_sign(private, iss="wix.com", aud="another-app"), pem, app_id=APP_ID)
    assert err.value.reason == "bad_claims"


def test_a_signed_token_without_a_wix_envelope_is_refused(keys: Any) -> None:
    private, pem, _ = keys
    token = jwt.encode({"data": "not json", "exp": int(time.time()) + 60}, private, algorithm="RS256")
    with pytest.raises(WebhookVerificationError) as err:
        verify_and_parse_webhook(token, pem)
    assert err.value.reason == "bad_payload"
    token = jwt.encode({"hello": "world"}, private, algorithm="RS256")
    with pytest.raises(WebhookVerificationError) as err:
        verify_and_parse_webhook(token, pem)
    assert err.value.reason == "bad_claims"


def test_a_token_signed_with_another_algorithm_is_refused(keys: Any) -> None:
    _, pem, _ = keys
    token = jwt.encode({"data": orjson.dumps(_envelope()).decode()}, "shared-secret-of-sufficient-len!", "HS256")
    with pytest.raises(WebhookVerificationError):
        verify_and_parse_webhook(token, pem)
