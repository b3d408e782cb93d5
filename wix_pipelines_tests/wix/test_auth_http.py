"""OAuth token caching and refresh, and secrets kept out of logs, errors and reprs, over real HTTP."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from wix_pipelines.emulator.config import EmulatorConfig
from wix_pipelines.emulator.server import RunningEmulator, running_emulator
from wix_pipelines.wix import (
    ApiKeyAuth,
    OAuthAppAuth,
    WixApiError,
    WixAuthenticationError,
    WixClient,
    WixError,
)

from .conftest import FAST_RETRY, SECRET_API_KEY, SECRET_APP_SECRET

DANA = {"name": {"first": "Dana"}, "emails": {"items": [{"email": "dana@example.org"}]}}


def _oauth(emu: RunningEmulator) -> OAuthAppAuth:
    c = emu.config
    return OAuthAppAuth(c.app_id, SecretStr(c.app_secret), c.instance_id)


def test_oauth_token_is_fetched_once_for_many_calls_and_refreshed_on_expiry() -> None:
    config = EmulatorConfig(token_ttl_s=1)
    with running_emulator(config) as emu:
        auth = _oauth(emu)
        with WixClient(emu.base_url, auth=auth, retry=FAST_RETRY, rate_limit_per_minute=None) as client:
            for _ in range(15):
                client.contacts.query_page(limit=1)
            assert auth.tokens_fetched == 1
            assert client.stats.by_operation["oauth.token"] == 1
            assert client.stats.by_operation["contacts.query"] == 15

            time.sleep(1.05)  # past expires_in: the next call must fetch a new token first
            client.contacts.query_page(limit=1)
            assert auth.tokens_fetched == 2

            # Revoked early (server-side expiry before ours): one 401, one refresh, then the call succeeds.
            emu.state.expire_tokens()
            assert client.contacts.query_page(limit=1).total == 0
            assert auth.tokens_fetched == 3


def test_concurrent_first_calls_share_one_token(emu: RunningEmulator) -> None:
    auth = _oauth(emu)
    with WixClient(emu.base_url, auth=auth, retry=FAST_RETRY, rate_limit_per_minute=None) as client:
        barrier = threading.Barrier(8)
        errors: list[BaseException] = []

        def call() -> None:
            barrier.wait()
            try:
                client.contacts.query_page(limit=1)
            except BaseException as exc:  # surfaced by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert auth.tokens_fetched == 1


def test_wrong_app_secret_is_an_authentication_error_without_the_secret(emu: RunningEmulator) -> None:
    c = emu.config
    auth = OAuthAppAuth(c.app_id, "not-the-secret-xyz", c.instance_id)
    client = WixClient(emu.base_url, auth=auth, retry=FAST_RETRY, rate_limit_per_minute=None)
    with client, pytest.raises(WixAuthenticationError) as err:
        client.contacts.query_page()
    assert err.value.path == "/oauth2/token"
    assert "not-the-secret-xyz" not in str(err.value) and "not-the-secret-xyz" not in repr(err.value)


def test_a_missing_or_wrong_api_key_is_a_401(emu: RunningEmulator) -> None:
    auth = ApiKeyAuth("wrong-key", site_id=emu.config.site_id)
    client = WixClient(emu.base_url, auth=auth, retry=FAST_RETRY, rate_limit_per_minute=None)
    with client, pytest.raises(WixAuthenticationError) as err:
        client.contacts.query_page()
    assert err.value.attempts == 1


def test_the_api_key_never_appears_in_logs_exceptions_or_reprs(
    emu: RunningEmulator, make_client: Callable[..., WixClient], caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("", "httpx", "httpcore", "wix_pipelines", "tenacity"):
        caplog.set_level(logging.DEBUG, logger=name)
    client = make_client()
    raised: list[WixError] = []

    client.contacts.create(DANA)
    client.contacts.query_page()
    try:
        client.contacts.create(DANA)  # 409
    except WixApiError as exc:
        raised.append(exc)
    emu.state.faults.inject(503, count=10)
    try:
        client.contacts.query_page()  # retried, logged, then raised
    except WixApiError as exc:
        raised.append(exc)
    emu.state.faults.inject(None, count=10, drop_connection=True)
    try:
        client.contacts.query_page()
    except WixError as exc:
        raised.append(exc)

    emu.state.faults.clear()  # the budgets above left scripted faults unused
    # OAuth too: neither the app secret nor the access token may leak.
    oauth = _oauth(emu)
    with WixClient(emu.base_url, auth=oauth, retry=FAST_RETRY, rate_limit_per_minute=None) as app_client:
        app_client.contacts.query_page()
        token = oauth._token.value.get_secret_value() if oauth._token else ""
    assert token

    assert len(raised) == 3
    assert "httpcore" in caplog.text or "HTTP Request" in caplog.text  # the loggers really were captured
    texts = [caplog.text, repr(client), repr(client.auth), repr(oauth), str(client.stats)]
    for exc in raised:
        texts += [str(exc), repr(exc), str(exc.__cause__ or ""), repr(exc.args)]
    for text in texts:
        assert SECRET_API_KEY not in text
        assert SECRET_APP_SECRET not in text
        assert token not in text


def test_an_error_body_echoing_the_api_key_is_redacted() -> None:
    # A misbehaving gateway that repeats the Authorization header in its error text.
    def echo(request: httpx.Request) -> httpx.Response:
        key = request.headers["Authorization"]
        return httpx.Response(403, json={"message": f"key {key} may not call this", "details": {}})

    auth = ApiKeyAuth(SECRET_API_KEY, site_id="site-1")
    client = WixClient("https://wix.invalid", auth=auth, http_transport=httpx.MockTransport(echo))
    with client, pytest.raises(WixApiError) as err:
        client.contacts.query_page()
    assert err.value.status_code == 403
    assert SECRET_API_KEY not in str(err.value) and SECRET_API_KEY not in repr(err.value.args)
    assert "[redacted]" in str(err.value)
