"""Extended fields (SPEC.md §4) and OAuth client credentials (§2.3)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from wix_pipelines.emulator.server import RunningEmulator
from wix_pipelines_tests.emulator.helpers import app_code, ok

FIELDS = "/contacts/v4/extended-fields"


def test_find_or_create_creates_once_then_finds_by_exact_display_name(emulator_http: httpx.Client) -> None:
    created = ok(emulator_http.post(FIELDS, json={"displayName": "externalCrmId", "dataType": "TEXT"}))
    assert created["newField"] is True
    assert created["field"]["key"] == "custom.externalcrmid"
    assert created["field"]["namespace"] == "custom" and created["field"]["fieldType"] == "USER_DEFINED"
    assert "id" not in created["field"]
    found = ok(emulator_http.post(FIELDS, json={"displayName": "externalCrmId", "dataType": "NUMBER"}))
    assert found == {"field": created["field"], "newField": False}
    spaced = ok(emulator_http.post(FIELDS, json={"displayName": "My Field!"}))["field"]
    assert spaced["key"] == "custom.my-field"
    assert ok(emulator_http.get(f"{FIELDS}/custom.my-field"))["field"] == spaced


def test_system_email_subscription_fields_exist_and_list_uses_metadata(emulator_http: httpx.Client) -> None:
    listed = ok(emulator_http.get(FIELDS, params={"fieldType": "SYSTEM"}))
    keys = {f["key"] for f in listed["fields"]}
    assert {
        "emailSubscriptions.subscriptionStatus",
        "emailSubscriptions.deliverabilityStatus",
        "emailSubscriptions.effectiveEmail",
    } <= keys
    assert listed["metadata"]["total"] == len(listed["fields"])
    queried = ok(
        emulator_http.post(f"{FIELDS}/query", json={"query": {"filter": {"displayName": {"$startsWith": "loyalty"}}}})
    )
    assert [f["key"] for f in queried["fields"]] == ["custom.loyalty-tier"]
    assert queried["pagingMetadata"]["total"] == 1


def test_unknown_field_key_is_404(emulator_http: httpx.Client) -> None:
    response = emulator_http.get(f"{FIELDS}/custom.nope")
    assert response.status_code == 404


def token_for(emulator: RunningEmulator) -> dict[str, object]:
    body = {"grant_type": "client_credentials", **emulator.oauth_credentials()}
    return ok(httpx.post(emulator.base_url + "/oauth2/token", json=body))


def test_client_credentials_token_authenticates_as_the_app(emulator: RunningEmulator) -> None:
    token = token_for(emulator)
    assert token["expires_in"] == emulator.config.token_ttl_s
    headers = {"Authorization": str(token["access_token"])}
    ok(httpx.get(emulator.base_url + "/contacts/v4/contacts", headers=headers))
    ok(
        httpx.get(
            emulator.base_url + "/contacts/v4/contacts", headers={"Authorization": f"Bearer {token['access_token']}"}
        )
    )


def test_wrong_client_secret_gets_no_token(emulator: RunningEmulator) -> None:
    body = {"grant_type": "client_credentials", **emulator.oauth_credentials(), "client_secret": "wrong"}
    response = httpx.post(emulator.base_url + "/oauth2/token", json=body)
    assert response.status_code == 401
    assert app_code(response) == "INVALID_CLIENT"


def test_expired_token_is_401_and_a_new_token_works(emulator_factory: Callable[..., RunningEmulator]) -> None:
    emulator = emulator_factory(token_ttl_s=3600)
    old = token_for(emulator)["access_token"]
    assert emulator.state.expire_tokens() == 1
    response = httpx.get(emulator.base_url + "/contacts/v4/contacts", headers={"Authorization": str(old)})
    assert response.status_code == 401
    assert app_code(response) == "TOKEN_EXPIRED"
    fresh = token_for(emulator)["access_token"]
    ok(httpx.get(emulator.base_url + "/contacts/v4/contacts", headers={"Authorization": str(fresh)}))


def test_token_expires_by_itself_after_its_ttl(emulator_factory: Callable[..., RunningEmulator]) -> None:
    emulator = emulator_factory(token_ttl_s=1)
    token = token_for(emulator)["access_token"]
    emulator.state.tokens[str(token)].expires_at -= 1.0  # age it instead of sleeping
    response = httpx.get(emulator.base_url + "/contacts/v4/contacts", headers={"Authorization": str(token)})
    assert response.status_code == 401
