"""The webhook receiver: verify the RS256 JWT, reject what cannot be trusted, append the rest to the inbox.

It does nothing else on purpose (no API calls, no warehouse): Wix expects a fast 200, and the work an event
triggers runs later in Dagster, driven by the inbox sensor. Answers:

| case | status | body `error.reason` |
|---|---|---|
| accepted | 200 `{}` | |
| body larger than `max_body_bytes` | 413 | `too_large` |
| empty, not a JWT, truncated, undecodable | 400 | `malformed` |
| signature does not match the key (forged) | 401 | `bad_signature` |
| `exp` in the past / `iat` in the future | 401 | `expired` / `not_yet_valid` |
| wrong `aud`/`iss` (when an app id is configured) | 401 | `bad_claims` |
| the envelope is not a Wix event, or has no event id | 422 | `bad_payload` |
| event id seen before | 409 | `replayed` |
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wix_pipelines.wix.webhooks import WebhookVerificationError, load_public_key_pem, verify_and_parse_webhook

from .inbox import ReplayedEventError, WebhookInbox

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
_STATUS = {
    "malformed": 400,
    "bad_signature": 401,
    "expired": 401,
    "not_yet_valid": 401,
    "bad_claims": 401,
    "bad_payload": 422,
    "bad_key": 500,  # our configuration is wrong, not the sender's request
}


@dataclass(frozen=True)
class Outcome:
    status: int
    reason: str | None = None
    message: str = ""
    seq: int | None = None

    def body(self) -> bytes:
        if self.status == 200:
            return b"{}"
        return orjson.dumps({"error": {"reason": self.reason, "message": self.message}})


class WebhookReceiver:
    """Verification and inbox append, callable in-process (tests) or behind the HTTP app."""

    def __init__(
        self,
        inbox: WebhookInbox,
        public_key_pem: str,
        *,
        app_id: str | None = None,
        leeway_s: float = 60.0,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.inbox = inbox
        self.public_key_pem = load_public_key_pem(public_key_pem)
        self.app_id = app_id
        self.leeway_s = leeway_s
        self.max_body_bytes = max_body_bytes
        inbox.ensure()

    def accept(self, body: bytes | str) -> Outcome:
        raw = body.encode() if isinstance(body, str) else body
        if len(raw) > self.max_body_bytes:
            return self._reject(413, "too_large", f"body is {len(raw)} bytes; the limit is {self.max_body_bytes}")
        if not raw.strip():
            return self._reject(400, "malformed", "empty body: expected a JWT")
        try:
            event = verify_and_parse_webhook(raw, self.public_key_pem, app_id=self.app_id, leeway=self.leeway_s)
        except WebhookVerificationError as exc:
            return self._reject(_STATUS.get(exc.reason, 400), exc.reason, exc.message)
        if not event.data.id:
            return self._reject(422, "bad_payload", "the event carries no id, so a replay could not be detected")
        try:
            seq = self.inbox.append(event)
        except ReplayedEventError as exc:
            return self._reject(409, "replayed", str(exc))
        return Outcome(200, seq=seq)

    @staticmethod
    def _reject(status: int, reason: str, message: str) -> Outcome:
        # Never log the token: it is a credential-like artefact; the reason and message say enough.
        log.warning("webhook rejected with %d (%s): %s", status, reason, message)
        return Outcome(status, reason, message)


def create_receiver_app(receiver: WebhookReceiver, path: str = "/webhooks/wix") -> Starlette:
    async def handle(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > receiver.max_body_bytes:
            outcome = receiver._reject(413, "too_large", f"declared body of {declared} bytes is over the limit")
        else:
            body = await request.body()
            # SQLite writes block: run them in a worker thread so the event loop keeps answering.
            outcome = await run_in_threadpool(receiver.accept, body)
        return Response(outcome.body(), outcome.status, media_type="application/json")

    async def health(request: Request) -> Response:
        return Response(b'{"ok": true}', media_type="application/json")

    return Starlette(routes=[Route(path, handle, methods=["POST"]), Route("/health", health, methods=["GET"])])
