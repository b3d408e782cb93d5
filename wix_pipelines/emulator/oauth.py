"""OAuth for apps (SPEC.md §2.3): client-credentials tokens that expire after `token_ttl_s`."""

from __future__ import annotations

import hmac
import time
from typing import Any

from wix_pipelines.emulator.context import Ctx
from wix_pipelines.emulator.errors import ApiError, validation_error

TOKEN = "/oauth2/token"
TOKEN_INFO = "/oauth2/token-info"


def h_token(ctx: Ctx) -> Any:
    body = ctx.body
    grant = body.get("grant_type")
    if grant != "client_credentials":
        raise validation_error(
            "grant_type", f"only client_credentials is supported, got {grant!r}", "INVALID_ENUM_VALUE"
        )
    config = ctx.state.config
    client_id = str(body.get("client_id") or "")
    secret = str(body.get("client_secret") or "")
    instance_id = str(body.get("instance_id") or "")
    if client_id != config.app_id or not hmac.compare_digest(secret.encode(), config.app_secret.encode()):
        raise ApiError(401, "INVALID_CLIENT", "unknown client_id or wrong client_secret", message="Unauthorized")
    if instance_id != config.instance_id:
        raise ApiError(404, "INSTANCE_NOT_FOUND", f"app {client_id} is not installed on instance {instance_id!r}")
    token, ttl = ctx.state.issue_token(client_id, instance_id)
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}


def h_token_info(ctx: Ctx) -> Any:
    token = str(ctx.body.get("token") or "")
    with ctx.state.lock:
        info = ctx.state.tokens.get(token)
    if info is None or info.expires_at <= time.time():
        raise ApiError(401, "UNAUTHENTICATED", "unknown or expired token", message="Unauthorized")
    return {
        "active": True,
        "subjectType": "APP",
        "subjectId": info.app_id,
        "exp": int(info.expires_at),
        "clientId": info.app_id,
        "instanceId": info.instance_id,
        "siteId": ctx.state.config.site_id,
    }


ROUTES = [("POST", TOKEN, h_token), ("POST", TOKEN_INFO, h_token_info)]
