"""Admin routes under `/_emulator/` (no auth, never faulted, not counted in stats).

| route | what it does |
|---|---|
| `GET  /_emulator/health` | `{"ok": true}` — readiness probe |
| `GET  /_emulator/stats` | request counts by "METHOD /route/template", statuses, writes, faults injected/pending |
| `POST /_emulator/stats/reset` | zero the counters |
| `POST /_emulator/faults` | script: `{status, count, path_prefix, retry_after, delay_s, drop_connection}`; |
|  | rates: `{rate_429, rate_5xx, latency_ms, retry_after_s, seed}`; or `{"clear": true}` |
| `POST /_emulator/reset` | back to the freshly seeded state (data, tokens, stats, faults, events) |
| `POST /_emulator/records/{collection}` | `{"records": [...]}` raw insert (choose ids, createdDate...); |
|  | collections: contacts, extended_fields, reviews, ratings, review_requests, orders |
| `GET  /_emulator/records/{collection}/{id}` | one raw record |
| `GET  /_emulator/webhook-public-key` | the PEM public key webhooks are signed with (text/plain) |
| `GET  /_emulator/events` | every emitted event: `[{"envelope": {...}, "jwt": "..."}]` |
| `POST /_emulator/webhook` | `{"url": "http://..." or null}` change the delivery target |
| `POST /_emulator/expire-tokens` | expire every issued OAuth token now |
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from wix_pipelines.emulator.context import Ctx
from wix_pipelines.emulator.errors import ApiError, not_found, validation_error


def h_health(ctx: Ctx) -> Any:
    return {"ok": True}


def h_stats(ctx: Ctx) -> Any:
    snapshot = ctx.state.stats.snapshot()
    snapshot["faultsInjected"] = ctx.state.faults.injected
    snapshot["faultsPending"] = ctx.state.faults.pending()
    return snapshot


def h_stats_reset(ctx: Ctx) -> Any:
    ctx.state.stats.reset()
    return {}


def h_faults(ctx: Ctx) -> Any:
    body = ctx.body
    faults = ctx.state.faults
    if body.get("clear"):
        faults.clear()
    rates = {k: body[k] for k in ("rate_429", "rate_5xx", "latency_ms", "retry_after_s", "seed") if k in body}
    if rates:
        faults.configure(**rates)
    if "status" in body or body.get("drop_connection") or body.get("delay_s"):
        faults.inject(
            body.get("status"),
            count=int(body.get("count", 1)),
            path_prefix=body.get("path_prefix"),
            retry_after=body.get("retry_after"),
            delay_s=body.get("delay_s"),
            drop_connection=bool(body.get("drop_connection", False)),
        )
    return {"pending": faults.pending()}


def h_reset(ctx: Ctx) -> Any:
    ctx.state.reset()
    return {}


def h_insert(ctx: Ctx) -> Any:
    records = ctx.body.get("records")
    if not isinstance(records, list):
        raise validation_error("records", "must be a list of record objects")
    return {"records": ctx.state.insert_records(ctx.path_params["collection"], records)}


def h_get_record(ctx: Ctx) -> Any:
    collection = ctx.state.collections.get(ctx.path_params["collection"])
    if collection is None:
        raise ApiError(404, "UNKNOWN_COLLECTION", f"no collection {ctx.path_params['collection']!r}")
    record = collection.get(ctx.path_params["id"])
    if record is None:
        raise not_found("RECORD_NOT_FOUND", "record", ctx.path_params["id"])
    return record


def h_public_key(ctx: Ctx) -> Any:
    return Response(ctx.state.public_key_pem, media_type="text/plain")


def h_events(ctx: Ctx) -> Any:
    return {"events": [{"envelope": envelope, "jwt": token} for envelope, token in ctx.state.events]}


def h_webhook(ctx: Ctx) -> Any:
    ctx.state.set_webhook_url(ctx.body.get("url"))
    return {"url": ctx.state.config.webhook_url}


def h_expire_tokens(ctx: Ctx) -> Any:
    return {"expired": ctx.state.expire_tokens()}


ROUTES = [
    ("GET", "/health", h_health),
    ("GET", "/stats", h_stats),
    ("POST", "/stats/reset", h_stats_reset),
    ("POST", "/faults", h_faults),
    ("POST", "/reset", h_reset),
    ("POST", "/records/{collection}", h_insert),
    ("GET", "/records/{collection}/{id}", h_get_record),
    ("GET", "/webhook-public-key", h_public_key),
    ("GET", "/events", h_events),
    ("POST", "/webhook", h_webhook),
    ("POST", "/expire-tokens", h_expire_tokens),
]
