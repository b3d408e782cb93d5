"""Auth (SPEC.md §2.3), the error envelope (§2.4) and transport rules (§2.1)."""

from __future__ import annotations

import httpx

from wix_pipelines.emulator.server import RunningEmulator
from wix_pipelines_tests.emulator.helpers import app_code, ok


def test_request_without_authorization_is_401_with_wix_envelope(emulator: RunningEmulator) -> None:
    response = httpx.post(emulator.base_url + "/contacts/v4/contacts/query", json={})
    assert response.status_code == 401
    assert response.headers["x-wix-request-id"]
    body = response.json()
    assert body["details"]["applicationError"]["code"] == "UNAUTHENTICATED"
    assert body["message"]


def test_wrong_api_key_is_401(emulator: RunningEmulator) -> None:
    headers = {"Authorization": "not-the-key", "wix-site-id": emulator.config.site_id}
    assert httpx.get(emulator.base_url + "/contacts/v4/contacts", headers=headers).status_code == 401


def test_api_key_with_bearer_prefix_is_accepted(emulator: RunningEmulator) -> None:
    headers = {"Authorization": f"Bearer {emulator.config.api_key}", "wix-site-id": emulator.config.site_id}
    ok(httpx.get(emulator.base_url + "/contacts/v4/contacts", headers=headers))


def test_api_key_without_site_id_is_403(emulator: RunningEmulator) -> None:
    response = httpx.get(
        emulator.base_url + "/contacts/v4/contacts", headers={"Authorization": emulator.config.api_key}
    )
    assert response.status_code == 403
    assert app_code(response) == "MISSING_SITE_ID"


def test_unknown_route_answers_404_envelope_with_request_id(emulator_http: httpx.Client) -> None:
    response = emulator_http.get("/contacts/v9/nothing")
    assert response.status_code == 404
    assert response.headers["x-wix-request-id"]
    assert app_code(response) == "NOT_FOUND"


def test_request_ids_are_unique_per_response(emulator_http: httpx.Client) -> None:
    ids = {emulator_http.get("/contacts/v4/contacts").headers["x-wix-request-id"] for _ in range(3)}
    assert len(ids) == 3


def test_sdk_style_duplicate_query_params_are_ignored(emulator_http: httpx.Client) -> None:
    contact_id = ok(emulator_http.get("/contacts/v4/contacts"))["contacts"][0]["id"]
    body = ok(emulator_http.get(f"/contacts/v4/contacts/{contact_id}", params={"id": contact_id, "fieldsets": "FULL"}))
    assert body["contact"]["id"] == contact_id
    assert body["responseType"] == "REGULAR"


def test_invalid_json_body_is_400(emulator_http: httpx.Client) -> None:
    response = emulator_http.post(
        "/contacts/v4/contacts", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


def test_path_aliases_reach_the_same_handlers(emulator_http: httpx.Client) -> None:
    for path in ("/_api/reviews/v1/reviews/query", "/reviews/api/v1/reviews/query", "/reviews/v1/reviews/query"):
        assert "reviews" in ok(emulator_http.post(path, json={"query": {}}))
    assert "contacts" in ok(emulator_http.post("/_api/contacts/v4/contacts/query", json={"query": {}}))
    assert "reviewRequests" in ok(emulator_http.post("/reviews/v2/review-requests/query", json={"query": {}}))
