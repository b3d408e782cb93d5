"""Authentication for the Wix REST APIs (SPEC.md §2.3), as ``httpx.Auth`` flows.

Secrets are held as ``SecretStr`` and only unwrapped while a header is being set; the objects' reprs name the
identity (site id, app id) but never the key, secret or token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from dataclasses import dataclass

import httpx
import orjson
from pydantic import SecretStr

from . import paths
from .errors import WixAuthenticationError, error_from_response

__all__ = ["ApiKeyAuth", "OAuthAppAuth"]


def _secret(value: SecretStr | str) -> SecretStr:
    return value if isinstance(value, SecretStr) else SecretStr(value)


class ApiKeyAuth(httpx.Auth):
    """API-key auth: ``Authorization: <key>`` (raw, no ``Bearer``) plus ``wix-site-id`` or
    ``wix-account-id``."""

    def __init__(self, api_key: SecretStr | str, site_id: str | None = None, account_id: str | None = None) -> None:
        if not api_key or not _secret(api_key).get_secret_value():
            raise ValueError("ApiKeyAuth needs a non-empty api_key")
        if bool(site_id) == bool(account_id):
            raise ValueError("ApiKeyAuth needs exactly one of site_id (site-level APIs) or account_id")
        self.api_key = _secret(api_key)
        self.site_id = site_id
        self.account_id = account_id

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self.api_key.get_secret_value()
        if self.site_id:
            request.headers["wix-site-id"] = self.site_id
        else:
            request.headers["wix-account-id"] = str(self.account_id)
        yield request

    def secret_values(self) -> tuple[str, ...]:
        """What must never be shown (the transport redacts these from server-supplied error text)."""
        return (self.api_key.get_secret_value(),)

    def __repr__(self) -> str:
        who = f"site_id={self.site_id!r}" if self.site_id else f"account_id={self.account_id!r}"
        return f"ApiKeyAuth(api_key=SecretStr('**********'), {who})"


@dataclass(frozen=True, slots=True)
class _Token:
    value: SecretStr
    refresh_at: float  # time.monotonic() after which we fetch a new one


class OAuthAppAuth(httpx.Auth):
    """OAuth client-credentials for Wix apps: ``POST /oauth2/token``, then ``Authorization: <access_token>``.

    The token is fetched lazily through the same ``httpx.Client`` (so it shares its connection pool and
    timeouts), cached until shortly before ``expires_in`` runs out, and refreshed once when the API answers
    401 (a token revoked or expired early). A lock makes sure concurrent threads fetch it once, not once each.
    """

    # Reading the token response inside the flow needs its body.
    requires_response_body = True

    def __init__(
        self,
        app_id: str,
        app_secret: SecretStr | str,
        instance_id: str,
        *,
        token_url: str | None = None,
        refresh_margin_s: float = 60.0,
    ) -> None:
        if not app_id or not instance_id or not _secret(app_secret).get_secret_value():
            raise ValueError("OAuthAppAuth needs app_id, app_secret and instance_id")
        self.app_id = app_id
        self.app_secret = _secret(app_secret)
        self.instance_id = instance_id
        # Relative token_url resolves against the client's base URL, so emulator and production need no
        # change.
        self.token_url = token_url
        self.refresh_margin_s = refresh_margin_s
        self._lock = threading.Lock()
        self._token: _Token | None = None
        self.tokens_fetched = 0

    def __repr__(self) -> str:
        return (
            f"OAuthAppAuth(app_id={self.app_id!r}, instance_id={self.instance_id!r}, "
            "app_secret=SecretStr('**********'))"
        )

    def secret_values(self) -> tuple[str, ...]:
        """What must never be shown (the transport redacts these from server-supplied error text)."""
        token = self._token
        values = [self.app_secret.get_secret_value()]
        if token is not None:
            values.append(token.value.get_secret_value())
        return tuple(values)

    def invalidate(self) -> None:
        """Forget the cached token; the next request fetches a new one."""
        with self._lock:
            self._token = None

    def _token_request(self, request: httpx.Request) -> httpx.Request:
        url = self.token_url or paths.OAUTH_TOKEN
        if not url.startswith(("http://", "https://")):
            url = str(request.url.copy_with(raw_path=url.encode(), query=None, fragment=None))
        body = {
            "grant_type": "client_credentials",
            "client_id": self.app_id,
            "client_secret": self.app_secret.get_secret_value(),
            "instance_id": self.instance_id,
        }
        return httpx.Request("POST", url, content=orjson.dumps(body), headers={"Content-Type": "application/json"})

    def _store(self, response: httpx.Response, token_request: httpx.Request) -> _Token:
        path = token_request.url.path
        if response.status_code != 200:
            error = error_from_response(
                response.status_code,
                response.content,
                request_id=response.headers.get("x-wix-request-id"),
                method="POST",
                path=path,
                retry_after=None,
            )
            secret = self.app_secret.get_secret_value()
            if secret in error.message or secret in (error.description or ""):
                # Never let a token endpoint that echoes the request put the secret in our exception text.
                error.message = error.message.replace(secret, "[redacted]")
                error.description = error.description and error.description.replace(secret, "[redacted]")
                error.args = (error.status_code, error.message)
            raise error
        try:
            payload = orjson.loads(response.content)
            access_token = str(payload["access_token"])
            expires_in = float(payload.get("expires_in") or 0) or 3600.0
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise WixAuthenticationError(
                200,
                f"token endpoint returned no usable access_token ({type(exc).__name__})",
                request_id=response.headers.get("x-wix-request-id"),
                method="POST",
                path=path,
            ) from None
        # Short-lived tokens (tests, emulator) must not be refreshed on every call: cap the margin at 10 %.
        margin = min(self.refresh_margin_s, expires_in * 0.1)
        self.tokens_fetched += 1
        return _Token(SecretStr(access_token), time.monotonic() + expires_in - margin)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # The lock is held across the token round-trip so that N threads starting together fetch one token.
        # httpx closes this generator on errors, which releases the lock.
        with self._lock:
            token = self._token
            if token is None or time.monotonic() >= token.refresh_at:
                token_request = self._token_request(request)
                token_response = yield token_request
                token = self._token = self._store(token_response, token_request)
        request.headers["Authorization"] = token.value.get_secret_value()
        response = yield request
        if response.status_code != 401:
            return
        # One refresh on 401: the token may have been revoked or expired before our margin.
        with self._lock:
            if self._token is token:
                token_request = self._token_request(request)
                token_response = yield token_request
                self._token = self._store(token_response, token_request)
            token = self._token
        request.headers["Authorization"] = token.value.get_secret_value()
        yield request
