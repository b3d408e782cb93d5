"""The Starlette app: routing (canonical paths and SPEC.md §1 aliases), auth, errors, faults, stats.

Every API response carries `x-wix-request-id`; every success is a 200 with a JSON body; errors use the Wix
envelope. Routes under `/_emulator/` are the admin interface (no auth, never faulted, not counted).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Message, Receive, Scope, Send

from wix_pipelines.emulator import (
    admin,
    contacts,
    extended_fields,
    oauth,
    ratings,
    review_requests,
    reviews,
)
from wix_pipelines.emulator.config import IDENTITY_OVERRIDE_HEADER, RATE_LIMIT_MESSAGE, EmulatorConfig
from wix_pipelines.emulator.context import Ctx
from wix_pipelines.emulator.errors import ApiError
from wix_pipelines.emulator.faults import FaultDecision
from wix_pipelines.emulator.state import EmulatorState, api_key_identity

log = logging.getLogger(__name__)
Handler = Callable[[Ctx], Any]
JSON = "application/json"
ADMIN_PREFIX = "/_emulator"


def aliases(path: str) -> list[str]:
    """Other paths the same operation is reachable at (SPEC.md §1, "Path aliases")."""
    out = ["/_api" + path]
    if path.startswith("/reviews/v1/"):
        out.append("/reviews/api/v1/" + path[len("/reviews/v1/") :])
    if path.startswith("/reviews/v2/bulk/"):
        out.append(path[len("/reviews") :])  # the SDK's unmapped raw form: /v2/bulk/review-requests/...
    return out


def error_response(exc: ApiError) -> Response:
    return Response(exc.body(), exc.status, headers=exc.headers, media_type=JSON)


def authenticate(state: EmulatorState, request: Request) -> dict[str, Any]:
    """API key (+ wix-site-id) or OAuth access token, raw or with `Bearer ` (SPEC.md §2.3)."""
    raw = request.headers.get("authorization", "").strip()
    if raw.lower().startswith("bearer "):
        raw = raw[7:].strip()
    if not raw:
        raise ApiError(401, "UNAUTHENTICATED", "missing Authorization header", message="Unauthorized")
    config = state.config
    if hmac.compare_digest(raw.encode(), config.api_key.encode()):
        site_id = request.headers.get("wix-site-id")
        if not site_id:
            raise ApiError(403, "MISSING_SITE_ID", "API-key calls need a wix-site-id header", message="Forbidden")
        if site_id != config.site_id:
            raise ApiError(403, "SITE_NOT_FOUND", "this API key has no access to that site", message="Forbidden")
        identity = api_key_identity()
    else:
        with state.lock:
            info = state.tokens.get(raw)
        if info is None:
            raise ApiError(401, "UNAUTHENTICATED", "unknown API key or access token", message="Unauthorized")
        if info.expires_at <= time.time():
            raise ApiError(
                401,
                "TOKEN_EXPIRED",
                "the access token has expired; request a new one",
                message="Unauthorized",
            )
        identity = {"identityType": "APP", "appId": info.app_id}
    override = request.headers.get(IDENTITY_OVERRIDE_HEADER)
    if override:
        try:
            identity = orjson.loads(override)
        except orjson.JSONDecodeError:
            raise ApiError(400, "INVALID_IDENTITY_OVERRIDE", f"{IDENTITY_OVERRIDE_HEADER} must be JSON") from None
    return identity


async def _read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        return {k: v for k, v in form.items()}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "INVALID_ARGUMENT", f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "INVALID_ARGUMENT", "request body must be a JSON object")
    return body


def make_endpoint(handler: Handler, public: bool) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        state: EmulatorState = request.app.state.emulator
        try:
            body = await _read_json(request)
            identity = {} if public else authenticate(state, request)
            ctx = Ctx(
                state=state,
                method=request.method,
                path=request.url.path,
                params=request.query_params,
                path_params=dict(request.path_params),
                body=body,
                identity=identity,
            )
            with state.lock:
                result = handler(ctx)
        except ApiError as exc:
            return error_response(exc)
        except Exception as exc:
            # An emulator bug must still look like a Wix 500 (envelope, request id), and say what broke.
            log.exception("emulator handler %s failed", handler.__qualname__)
            return error_response(ApiError(500, "INTERNAL", f"emulator error: {type(exc).__name__}: {exc}"))
        if isinstance(result, Response):
            return result
        content = result if isinstance(result, bytes) else orjson.dumps(result)
        return Response(content, 200, media_type=JSON)

    return endpoint


def build_routes() -> list[Route]:
    routes: list[Route] = []
    api: list[tuple[str, str, Handler]] = [
        *contacts.ROUTES,
        *extended_fields.ROUTES,
        *reviews.ROUTES,
        *ratings.ROUTES,
        *review_requests.ROUTES,
    ]
    for method, path, handler in api:
        endpoint = make_endpoint(handler, public=False)
        for variant in (path, *aliases(path)):
            routes.append(Route(variant, endpoint, methods=[method], name=path))
    for method, path, handler in oauth.ROUTES:
        routes.append(Route(path, make_endpoint(handler, public=True), methods=[method], name=path))
    for method, path, handler in admin.ROUTES:
        routes.append(
            Route(
                ADMIN_PREFIX + path,
                make_endpoint(handler, public=True),
                methods=[method],
                name=ADMIN_PREFIX + path,
            )
        )
    return routes


async def _not_found(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    code = "METHOD_NOT_ALLOWED" if status == 405 else "NOT_FOUND"
    return error_response(
        ApiError(
            status,
            code,
            f"no route for {request.method} {request.url.path}",
            message=code.replace("_", " ").title(),
        )
    )


class EmulatorApp(Starlette):
    """Starlette plus a gate in front of its middleware: request ids, faults, latency and stats.

    The gate sits before Starlette's own middleware so it holds the server's raw `send`, which lets a
    scripted fault drop the TCP connection without any response.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        header = (b"x-wix-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
                scope["_emulator_status"] = message["status"]
            await send(message)

        path: str = scope["path"]
        if path.startswith(ADMIN_PREFIX):
            await super().__call__(scope, receive, send_with_id)
            return
        state: EmulatorState = self.state.emulator
        decision = state.faults.decide(path)
        if decision is not None and await self._apply_fault(decision, scope, send, send_with_id):
            return
        await super().__call__(scope, receive, send_with_id)
        route = scope.get("route")
        state.stats.count_request(
            scope["method"], getattr(route, "name", None) or path, scope.get("_emulator_status", 0)
        )

    async def _apply_fault(self, decision: FaultDecision, scope: Scope, raw_send: Send, send: Send) -> bool:
        """Returns True when the fault answered (or dropped) the request."""
        if decision.delay_s:
            await asyncio.sleep(decision.delay_s)
        state: EmulatorState = self.state.emulator
        if decision.drop_connection:
            state.stats.count_request(scope["method"], self._route_name(scope), 0)
            owner = getattr(raw_send, "__self__", None)
            transport = getattr(owner, "transport", None)
            if transport is not None:
                transport.abort()
                await asyncio.sleep(0.01)  # let the server notice the disconnect before we return
                return True
            raise ConnectionAbortedError("emulator fault: drop connection")
        if decision.status is None:
            return False
        headers: dict[str, str] = {}
        if decision.status == 429:
            retry = decision.retry_after if decision.retry_after is not None else state.config.faults.retry_after_s
            headers["Retry-After"] = f"{retry:g}"
            exc = ApiError(429, "RESOURCE_EXHAUSTED", RATE_LIMIT_MESSAGE, message=RATE_LIMIT_MESSAGE, headers=headers)
        elif decision.status >= 500:
            message = "Service Unavailable" if decision.status == 503 else "Internal Server Error"
            exc = ApiError(decision.status, "INTERNAL", message, message=message)
        else:
            exc = ApiError(decision.status, "INJECTED_FAULT", f"injected HTTP {decision.status}")
        state.stats.count_request(scope["method"], self._route_name(scope), decision.status)
        response = error_response(exc)
        await response(scope, self._drain(scope), send)
        return True

    @staticmethod
    def _drain(scope: Scope) -> Receive:
        async def receive() -> Message:
            return {"type": "http.disconnect"}

        return receive

    def _route_name(self, scope: Scope) -> str:
        for route in self.router.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return getattr(route, "name", None) or scope["path"]
        return scope["path"]


def create_app(state: EmulatorState, config: EmulatorConfig | None = None) -> EmulatorApp:
    """The emulator's ASGI app over `state` (config defaults to the state's own)."""
    if config is not None and config is not state.config:
        state.config = config
    app = EmulatorApp(
        routes=build_routes(),
        exception_handlers={404: _not_found, 405: _not_found, HTTPException: _not_found},
    )
    app.state.emulator = state
    return app
