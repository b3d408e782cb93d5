"""Verify and parse Wix webhooks (SPEC.md §2.8).

The POST body is a compact RS256 JWT whose ``data`` claim is the envelope as a JSON string; the envelope's
``identity`` and ``data`` are JSON strings again. :func:`verify_and_parse_webhook` checks the signature (and
``exp``/``iat`` when present; ``aud``/``iss`` when ``app_id`` is given, as the SDK does when asked to verify
caller claims) and returns the typed :class:`~wix_pipelines.wix.models.WebhookEvent`. Anything wrong raises
:class:`WebhookVerificationError` with a ``reason`` a receiver can log; the token itself is never echoed.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

import jwt
import orjson
from pydantic import ValidationError

from .errors import WixError
from .models import WebhookEvent

__all__ = ["WebhookVerificationError", "load_public_key_pem", "verify_and_parse_webhook"]

WIX_ISSUER = "wix.com"

Reason = Literal["bad_key", "malformed", "bad_signature", "expired", "not_yet_valid", "bad_claims", "bad_payload"]


class WebhookVerificationError(WixError):
    """The webhook could not be trusted or understood; answer it with 4xx and do not process it."""

    def __init__(self, reason: Reason, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(f"webhook rejected ({reason}): {message}")


def load_public_key_pem(public_key: str | bytes) -> str:
    """The PEM text from a PEM string or the base64 of one (the SDK accepts both; so do we)."""
    text = public_key.decode() if isinstance(public_key, bytes) else public_key
    text = text.strip()
    if text.startswith("-----BEGIN"):
        return text
    try:
        decoded = base64.b64decode(text, validate=False).decode().strip()
    except (binascii.Error, UnicodeDecodeError):
        raise WebhookVerificationError("bad_key", "public key is neither PEM nor base64 of a PEM") from None
    if not decoded.startswith("-----BEGIN"):
        raise WebhookVerificationError("bad_key", "public key is neither PEM nor base64 of a PEM")
    return decoded


def verify_and_parse_webhook(
    jwt_text: str | bytes,
    public_key_pem: str | bytes,
    *,
    app_id: str | None = None,
    leeway: float = 60.0,
) -> WebhookEvent:
    """Verify a webhook body and return the parsed event.

    ``leeway`` (seconds) tolerates clock skew on ``exp``/``iat``. With ``app_id`` the token must also be
    issued by ``wix.com`` for that app (``iss``/``aud``); without it those claims are not checked (the SDK's
    default).
    """
    token = (jwt_text.decode("utf-8", "replace") if isinstance(jwt_text, bytes) else jwt_text).strip()
    if token.count(".") != 2:
        raise WebhookVerificationError("malformed", "body is not a compact JWT (expected three dot-separated parts)")
    key = load_public_key_pem(public_key_pem)
    options: dict[str, Any] = {"require": ["data"], "verify_aud": app_id is not None}
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],  # pinned: never let the token pick its algorithm
            audience=app_id,
            issuer=WIX_ISSUER if app_id is not None else None,
            leeway=leeway,
            options=options,
        )
    except jwt.ExpiredSignatureError:
        raise WebhookVerificationError("expired", "token has expired (exp is in the past)") from None
    except jwt.ImmatureSignatureError:
        raise WebhookVerificationError("not_yet_valid", "token is not valid yet (iat/nbf in the future)") from None
    except jwt.InvalidSignatureError:
        raise WebhookVerificationError("bad_signature", "signature does not match the public key") from None
    except (jwt.InvalidAudienceError, jwt.InvalidIssuerError, jwt.MissingRequiredClaimError) as exc:
        raise WebhookVerificationError("bad_claims", str(exc)) from None
    except (jwt.DecodeError, jwt.InvalidAlgorithmError) as exc:
        raise WebhookVerificationError("malformed", f"token cannot be decoded: {exc}") from None
    except jwt.InvalidKeyError as exc:
        raise WebhookVerificationError("bad_key", f"public key is not usable: {exc}") from None
    except jwt.InvalidTokenError as exc:
        raise WebhookVerificationError("bad_claims", str(exc)) from None
    data = claims.get("data")
    try:
        envelope = orjson.loads(data) if isinstance(data, str) else data
        if not isinstance(envelope, dict):
            raise TypeError("data claim is not a JSON object")
        return WebhookEvent.from_envelope(envelope, claims={k: v for k, v in claims.items() if k != "data"})
    except (orjson.JSONDecodeError, TypeError, ValidationError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WebhookVerificationError("bad_payload", f"envelope is not a Wix event: {detail}") from None
