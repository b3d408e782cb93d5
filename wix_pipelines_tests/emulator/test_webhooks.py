"""Webhooks (SPEC.md §2.8): signed JWT bodies, envelope shape, identity, ordered delivery with retries."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import orjson
import pytest

from wix_pipelines.emulator.config import RATING_EVENT_TYPE_PREFIX
from wix_pipelines.emulator.server import RunningEmulator
from wix_pipelines.emulator.webhooks import build_envelope, build_event, decode_webhook, sign_envelope
from wix_pipelines.wix.paths import RATINGS
from wix_pipelines_tests.emulator.helpers import ok


class Receiver:
    """A loopback HTTP endpoint that records webhook POSTs; it can fail the first N deliveries."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.content_types: list[str] = []
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    self.send_response(500)
                else:
                    receiver.bodies.append(body)
                    receiver.content_types.append(self.headers["Content-Type"])
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.bodies) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.bodies


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def hooked(
    emulator_factory: Callable[..., RunningEmulator], receiver: Receiver
) -> tuple[RunningEmulator, httpx.Client]:
    emulator = emulator_factory(webhook_url=receiver.url)
    return emulator, httpx.Client(base_url=emulator.base_url, headers=emulator.api_key_headers())


def test_contact_created_webhook_is_an_rs256_jwt_verifiable_with_the_public_key(
    hooked: tuple[RunningEmulator, httpx.Client], receiver: Receiver
) -> None:
    emulator, client = hooked
    contact = ok(client.post("/contacts/v4/contacts", json={"info": {"name": {"first": "Hook"}}}))["contact"]
    (token,) = receiver.wait_for(1)
    assert receiver.content_types == ["text/plain"]
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(
        token, emulator.public_key_pem, algorithms=["RS256"], audience=emulator.config.app_id, issuer="wix.com"
    )
    assert isinstance(claims["data"], str) and claims["exp"] > claims["iat"]
    envelope = orjson.loads(claims["data"])
    assert set(envelope) == {"instanceId", "eventType", "identity", "data", "accountInfo"}
    assert envelope["instanceId"] == emulator.config.instance_id
    assert envelope["eventType"] == "wix.contacts.v4.contact_created"
    assert envelope["accountInfo"]["siteId"] == emulator.config.site_id
    assert orjson.loads(envelope["identity"]) == {
        "identityType": "WIX_USER",
        "wixUserId": orjson.loads(envelope["identity"])["wixUserId"],
    }
    event = orjson.loads(envelope["data"])
    assert event["entityFqdn"] == "wix.contacts.v4.contact" and event["slug"] == "created"
    assert event["entityId"] == contact["id"] and event["entityEventSequence"] == "1"
    assert event["createdEvent"]["entity"] == contact
    assert event["eventTime"].endswith("Z")


def test_identity_names_the_app_for_oauth_calls_and_the_override_header_for_tests(
    hooked: tuple[RunningEmulator, httpx.Client], receiver: Receiver
) -> None:
    emulator, client = hooked
    token = ok(client.post("/oauth2/token", json={"grant_type": "client_credentials", **emulator.oauth_credentials()}))
    app_headers = {"Authorization": token["access_token"]}
    ok(
        httpx.post(
            emulator.base_url + RATINGS,
            headers=app_headers,
            json={
                "group": "g",
                "entityId": "e",
                "attributeName": "overall",
                "value": 5,
                "ratingOwner": {"contactId": "c"},
            },
        )
    )
    member = {"x-emulator-identity": '{"identityType": "MEMBER", "memberId": "m-1"}'}
    ok(client.post("/contacts/v4/contacts", json={"info": {"name": {"first": "M"}}}, headers=member))
    bodies = receiver.wait_for(2)
    (app_env, app_event), (member_env, _) = (
        decode_webhook(b, emulator.public_key_pem, emulator.config.app_id) for b in bodies
    )
    assert orjson.loads(app_env["identity"]) == {"identityType": "APP", "appId": emulator.config.app_id}
    assert app_env["eventType"] == RATING_EVENT_TYPE_PREFIX + "created" == "wix.ratings.v1.rating_created"
    assert app_event["createdEvent"]["entity"]["owner"] == {"contactId": "c"}
    assert orjson.loads(member_env["identity"]) == {"identityType": "MEMBER", "memberId": "m-1"}


def test_events_are_delivered_in_order_and_retried_after_a_failure(
    hooked: tuple[RunningEmulator, httpx.Client], receiver: Receiver
) -> None:
    emulator, client = hooked
    receiver.fail_next = 1
    contact = ok(client.post("/contacts/v4/contacts", json={"info": {"name": {"first": "A"}}}))["contact"]
    ok(client.patch(f"/contacts/v4/contacts/{contact['id']}", json={"revision": 1, "info": {"company": "X"}}))
    ok(client.delete(f"/contacts/v4/contacts/{contact['id']}"))
    bodies = receiver.wait_for(3)
    types = [decode_webhook(b, emulator.public_key_pem, emulator.config.app_id)[0]["eventType"] for b in bodies]
    assert types == [
        "wix.contacts.v4.contact_created",
        "wix.contacts.v4.contact_updated",
        "wix.contacts.v4.contact_deleted",
    ]
    deleted = decode_webhook(bodies[2], emulator.public_key_pem, emulator.config.app_id)[1]
    assert deleted["deletedEvent"] == {} and deleted["entityEventSequence"] == "3"
    assert [token for _, token in emulator.state.events] == bodies


def test_review_events_and_public_key_route(hooked: tuple[RunningEmulator, httpx.Client], receiver: Receiver) -> None:
    emulator, client = hooked
    body = {"review": {"namespace": "stores", "entityId": "p", "author": {"contactId": "c"}, "content": {"rating": 5}}}
    review = ok(client.post("/reviews/v1/reviews", json=body))["review"]
    ok(client.delete(f"/reviews/v1/reviews/{review['id']}"))
    bodies = receiver.wait_for(4)
    decoded = [decode_webhook(b, emulator.public_key_pem, emulator.config.app_id) for b in bodies]
    assert [e["eventType"] for e, _ in decoded] == [
        "wix.reviews.v1.review_created",
        "wix.reviews.v1.review_moderation_status_changed",
        "wix.reviews.v1.review_review_published",
        "wix.reviews.v1.review_deleted",
    ]
    assert decoded[1][1]["actionEvent"]["body"]["review"]["id"] == review["id"]
    assert decoded[3][1]["deletedEvent"]["deletedEntity"]["id"] == review["id"]
    served = httpx.get(emulator.base_url + "/_emulator/webhook-public-key").text
    assert served == emulator.public_key_pem


def test_forged_events_sign_like_real_ones(emulator: RunningEmulator) -> None:
    event = build_event("wix.contacts.v4.contact", "updated", "c-1", updated={"id": "c-1", "revision": 9}, sequence=9)
    envelope = build_envelope(
        "wix.contacts.v4.contact_updated", event, {"identityType": "APP", "appId": "other-app"},
        instance_id="i", account_id="a", site_id="s",
    )  # fmt: skip
    token = sign_envelope(envelope, emulator.state.private_key, emulator.config.app_id)
    got_envelope, got_event = decode_webhook(token, emulator.public_key_pem, emulator.config.app_id)
    assert got_envelope == envelope and got_event["updatedEvent"]["currentEntity"]["revision"] == 9
    with pytest.raises(jwt.InvalidAudienceError):
        decode_webhook(token, emulator.public_key_pem, "another-app")
