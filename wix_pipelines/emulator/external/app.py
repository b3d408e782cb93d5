"""The external system's REST API (the wire contract `wix_pipelines.external.http.HttpExternalAdapter` speaks).

| route | what it does |
|---|---|
| `GET /api/v1/changes?cursor=N&limit=M` | `{changes: [{cursor, kind, id, op, actor, at}], nextCursor, hasMore}` |
| `GET /api/v1/{kind}?offset&limit` | `{records, total}` (kind: contacts, reviews, ratings) |
| `POST /api/v1/{kind}/find` | `{fields}` natural key → `{record}` or 404 |
| `GET /api/v1/{kind}/{id}` | `{record}` or 404 |
| `POST /api/v1/{kind}` | `{fields}` + header `Idempotency-Key` → 201 `{record}`; natural-key clash: 409 with |
|  | `{error: {code: DUPLICATE, existingId}}` |
| `PATCH /api/v1/{kind}/{id}` | `{fields}` (null removes a field) → `{record}` |
| `DELETE /api/v1/{kind}/{id}` | `{}` or 404 |
| `GET /_admin/stats` | writes by kind/op/actor, requests, change-feed length |
| `POST /_admin/faults` | `{count, skip, mode: before/after, status, kind, op}`; `{"clear": true}` |
| `POST /_admin/reset` | empty everything |

Every `/api/` call needs `Authorization: Bearer <token>`; the token names the actor recorded in the feed.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .state import ExternalApiError, ExternalState, Fault


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status, media_type="application/json")


def _actor(state: ExternalState, request: Request) -> str:
    raw = request.headers.get("authorization", "")
    token = raw[7:].strip() if raw.lower().startswith("bearer ") else raw.strip()
    actor = state.actor_for_token(token) if token else None
    if actor is None:
        raise ExternalApiError(401, "UNAUTHENTICATED", "missing or unknown bearer token")
    return actor


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ExternalApiError(400, "INVALID_JSON", "request body is not JSON") from None
    if not isinstance(body, dict):
        raise ExternalApiError(400, "INVALID_JSON", "request body must be an object")
    return body


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    fields = body.get("fields")
    if not isinstance(fields, dict):
        raise ExternalApiError(400, "INVALID_FIELDS", "`fields` must be an object")
    return fields


async def api(request: Request) -> Response:
    state: ExternalState = request.app.state.external
    try:
        actor = _actor(state, request)
        kind = request.path_params.get("kind", "")
        record_id = request.path_params.get("id")
        method = request.method
        with state.lock:
            state.requests[f"{method} {request.scope['route'].path}"] += 1
        if request.url.path == "/api/v1/changes":
            cursor = int(request.query_params.get("cursor") or 0)
            limit = min(max(int(request.query_params.get("limit") or 100), 1), 1000)
            changes, next_cursor, has_more = state.changes_after(cursor, limit)
            for change in changes:
                change["cursor"] = str(change["cursor"])
            return _json({"changes": changes, "nextCursor": str(next_cursor), "hasMore": has_more})
        if record_id == "find" and method == "POST":
            found = state.find(kind, _fields(await _body(request)))
            if found is None:
                raise ExternalApiError(404, "NOT_FOUND", f"no {kind} with that key")
            return _json({"record": found})
        if record_id is None and method == "GET":
            offset = int(request.query_params.get("offset") or 0)
            limit = min(max(int(request.query_params.get("limit") or 100), 1), 1000)
            records, total = state.list(kind, offset, limit)
            return _json({"records": records, "total": total})
        if record_id is None and method == "POST":
            key = request.headers.get("idempotency-key")
            return _json({"record": state.create(kind, _fields(await _body(request)), actor, key)}, 201)
        if record_id is not None and method == "GET":
            record = state.get(kind, record_id)
            if record is None:
                raise ExternalApiError(404, "NOT_FOUND", f"{kind} {record_id} does not exist")
            return _json({"record": record})
        if record_id is not None and method == "PATCH":
            return _json({"record": state.update(kind, record_id, _fields(await _body(request)), actor)})
        if record_id is not None and method == "DELETE":
            state.delete(kind, record_id, actor)
            return _json({})
        raise ExternalApiError(405, "METHOD_NOT_ALLOWED", f"{method} {request.url.path}")
    except ExternalApiError as exc:
        return _json(exc.body(), exc.status)
    except ValueError as exc:
        return _json({"error": {"code": "INVALID_ARGUMENT", "message": str(exc)}}, 400)


async def admin_stats(request: Request) -> Response:
    state: ExternalState = request.app.state.external
    with state.lock:
        writes = [{"kind": k, "op": o, "actor": a, "count": n} for (k, o, a), n in sorted(state.writes.items())]
        return _json({"writes": writes, "requests": dict(state.requests), "changes": len(state.changes)})


async def admin_faults(request: Request) -> Response:
    state: ExternalState = request.app.state.external
    body = await _body(request)
    with state.lock:
        if body.pop("clear", False):
            state.faults.clear()
        if body:
            state.add_fault(Fault(**body))
        return _json({"pending": sum(f.count for f in state.faults)})


async def admin_reset(request: Request) -> Response:
    request.app.state.external.reset()
    return _json({})


def create_external_app(state: ExternalState) -> Starlette:
    app = Starlette(
        routes=[
            Route("/api/v1/changes", api, methods=["GET"]),
            Route("/api/v1/{kind}", api, methods=["GET", "POST"]),
            Route("/api/v1/{kind}/{id}", api, methods=["GET", "POST", "PATCH", "DELETE"]),
            Route("/_admin/stats", admin_stats, methods=["GET"]),
            Route("/_admin/faults", admin_faults, methods=["POST"]),
            Route("/_admin/reset", admin_reset, methods=["POST"]),
        ]
    )
    app.state.external = state
    return app
