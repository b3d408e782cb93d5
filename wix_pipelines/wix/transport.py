"""HTTP transport: one ``httpx.Client``, JSON via orjson, retries (tenacity), rate limit, request counting.

Retry rules (SPEC.md §2.4, §2.5, §9):

* 429 and 503 are retried for every request: the server refused it before doing anything. ``Retry-After``
  (seconds or an HTTP date) is honoured; without it we back off exponentially with jitter.
* 500, 502, 504, timeouts and dropped connections are *ambiguous* for writes: the server may have applied the
  request before the answer got lost. They are retried for idempotent requests (GET, queries, counts, DELETE,
  PATCH with a revision, which a replay cannot apply twice) and for creates whose replay the server rejects as
  a duplicate (contact without ``allowDuplicates``, review, rating: a replay surfaces as 409 "already exists",
  which callers already treat as such, SPEC.md §9). Creates with no natural key (contacts with
  ``allowDuplicates``, review requests, bulk creates, merges) are not replayed after an ambiguous failure, so
  they are never doubled; failing to connect at all (connect error/timeout, pool timeout) is safe and is
  retried. ``RetryPolicy(retry_ambiguous_writes=True)`` opts into replaying them anyway.
* The retry budget is both ``max_attempts`` and ``max_total_wait_s`` (the sum of sleeps). A
  ``Retry-After`` that would overrun the budget ends the retries at once rather than sleeping past it.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import functools
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import httpx
import orjson
from tenacity import RetryCallState, Retrying, retry_if_exception

from . import paths
from .errors import WixApiError, WixError, WixServerError, WixTransportError, error_from_response
from .ratelimit import RateLimiter

__all__ = ["ApiResponse", "RequestCounter", "RequestStats", "RetryPolicy", "Transport"]

log = logging.getLogger("wix_pipelines.wix")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_REQUEST_ID_HEADER = "x-wix-request-id"
# Connection-level failures where the request certainly never reached the server: safe to retry any request.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try before raising. Waits are in seconds; backoff is exponential with random jitter."""

    max_attempts: int = 6
    max_total_wait_s: float = 120.0
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    backoff_multiplier: float = 2.0
    jitter_s: float = 0.5
    # Upper bound on one Retry-After we agree to wait; a longer one ends the retries.
    max_retry_after_s: float = 120.0
    retry_ambiguous_writes: bool = False

    @classmethod
    def none(cls) -> RetryPolicy:
        return cls(max_attempts=1)

    def backoff(self, attempt: int) -> float:
        base = min(self.max_backoff_s, self.initial_backoff_s * self.backoff_multiplier ** (attempt - 1))
        return base + random.uniform(0, self.jitter_s)


@dataclass(slots=True)
class ApiResponse:
    """One successful (HTTP 200) answer: the parsed body, the raw bytes and the request id."""

    data: dict[str, Any]
    raw: bytes
    request_id: str | None
    attempts: int = 1


@dataclass(slots=True)
class RequestCounter:
    """Counts the HTTP requests made inside a ``RequestStats.track()`` block (per stream / asset)."""

    requests: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)


_active_counters: contextvars.ContextVar[tuple[RequestCounter, ...]] = contextvars.ContextVar(
    "wix_request_counters", default=()
)
_current_operation: contextvars.ContextVar[str] = contextvars.ContextVar("wix_operation", default="other")


class RequestStats:
    """Thread-safe counters of one client: every HTTP request (retries and token fetches included)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.retry_wait_s = 0.0
        self.by_operation: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"RequestStats(requests={self.requests}, retries={self.retries})"

    def _record_request(self, operation: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_operation[operation] = self.by_operation.get(operation, 0) + 1
            for counter in _active_counters.get():
                counter.requests += 1
                counter.by_operation[operation] = counter.by_operation.get(operation, 0) + 1

    def _record_retry(self, wait_s: float) -> None:
        with self._lock:
            self.retries += 1
            self.retry_wait_s += wait_s

    @contextlib.contextmanager
    def track(self) -> Iterator[RequestCounter]:
        """Count requests made in this block (and in generators iterated inside it), e.g. for one asset."""
        counter = RequestCounter()
        token = _active_counters.set((*_active_counters.get(), counter))
        try:
            yield counter
        finally:
            _active_counters.reset(token)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)


class _Attempt:
    """State of one logical request across its retries (for logging and error annotation)."""

    __slots__ = ("idempotent", "method", "path")

    def __init__(self, method: str, path: str, idempotent: bool) -> None:
        self.method = method
        self.path = path
        self.idempotent = idempotent


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """httpx's default context (certifi's CA bundle, SSL_CERT_FILE/DIR honoured), built once per process: loading
    the bundle costs ~0.1 s, which every client (one per asset run, sensor tick, sync) paid again."""
    return httpx.create_ssl_context()


class Transport:
    """Sends requests to one Wix base URL. Thread-safe; one connection pool per instance."""

    def __init__(
        self,
        base_url: str,
        auth: httpx.Auth | None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter | None = None,
        http_transport: httpx.BaseTransport | None = None,
        limits: httpx.Limits | None = None,
        user_agent: str = "wix-pipelines",
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.rate_limiter = rate_limiter
        self.stats = RequestStats()
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=auth,
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            transport=http_transport,
            limits=limits or httpx.Limits(max_connections=20, max_keepalive_connections=20),
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            event_hooks={"request": [self._on_request]},
            verify=_ssl_context(),
        )

    def __repr__(self) -> str:
        return f"Transport(base_url={str(self._client.base_url)!r})"

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    def close(self) -> None:
        self._client.close()

    def _on_request(self, request: httpx.Request) -> None:
        # Event hooks see every HTTP request, including OAuth token fetches and 401 replays made by auth
        # flows.
        operation = "oauth.token" if request.url.path.endswith(paths.OAUTH_TOKEN) else _current_operation.get()
        self.stats._record_request(operation)

    def _redact(self, error: WixApiError) -> None:
        # Error text comes from the server; a gateway that echoes the Authorization header must not make our
        # exceptions (and the logs that print them) carry the key.
        secret_values = getattr(self._client.auth, "secret_values", None)
        if secret_values is None:
            return
        for secret in secret_values():
            if len(secret) >= 6 and (secret in error.message or secret in (error.description or "")):
                error.message = error.message.replace(secret, "[redacted]")
                error.description = error.description and error.description.replace(secret, "[redacted]")
                error.args = (error.status_code, error.message)

    # -- retry plumbing --------------------------------------------------------------------------------------

    def _is_retryable(self, exc: BaseException, attempt: _Attempt) -> bool:
        may_replay = attempt.idempotent or self.retry.retry_ambiguous_writes
        if isinstance(exc, WixApiError):
            if exc.status_code in (429, 503):
                return True
            return isinstance(exc, WixServerError) and exc.is_retryable and may_replay
        if isinstance(exc, _NOT_SENT):
            return True
        if isinstance(exc, httpx.TransportError):
            return may_replay
        return False

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            # Honour the server; a small jitter spreads concurrent clients that were all told the same second.
            return float(retry_after) + random.uniform(0, min(0.1, self.retry.jitter_s))
        return self.retry.backoff(state.attempt_number)

    def _stop(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.retry.max_attempts:
            return True
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None and retry_after > self.retry.max_retry_after_s:
            return True
        return state.idle_for + (state.upcoming_sleep or 0.0) > self.retry.max_total_wait_s

    def _before_sleep(self, state: RetryCallState, attempt: _Attempt) -> None:
        exc = state.outcome.exception() if state.outcome else None
        sleep = state.upcoming_sleep or 0.0
        self.stats._record_retry(sleep)
        reason = (
            f"HTTP {exc.status_code}" + (f" {exc.code}" if exc.code else "")
            if isinstance(exc, WixApiError)
            else type(exc).__name__
        )
        log.warning(
            "retrying %s %s after %s (attempt %d of %d) in %.2f s",
            attempt.method,
            attempt.path,
            reason,
            state.attempt_number + 1,
            self.retry.max_attempts,
            sleep,
        )

    # -- sending ---------------------------------------------------------------------------------------------

    def _send_once(
        self,
        attempt: _Attempt,
        params: Mapping[str, Any] | None,
        content: bytes | None,
        decode: Callable[[bytes], Any],
    ) -> ApiResponse:
        if self.rate_limiter is not None:
            self.rate_limiter.acquire()
        headers = {"Content-Type": "application/json"} if content is not None else None
        started = time.perf_counter()
        request = self._client.build_request(
            attempt.method, attempt.path, params=params, content=content, headers=headers
        )
        response = self._client.send(request, stream=True)
        try:
            # Read as a stream so the body is ours alone: an httpx Response and its stream refer to each other,
            # so a Response that `.read()` kept its body in is freed only by a full garbage collection, which a
            # long-lived process (a Dagster run: ~230k objects) seldom makes. A 1M-contact pull held up to
            # ~300 MB of old response bodies that way.
            raw = b"".join(response.iter_bytes())
        finally:
            response.close()
        request_id = response.headers.get(_REQUEST_ID_HEADER)
        log.debug(
            "%s %s -> %d in %.1f ms (request id %s)",
            attempt.method,
            attempt.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
            request_id,
        )
        if response.status_code != 200:
            retry_after = None
            if response.status_code in (429, 503):
                retry_after = parse_retry_after(response.headers.get("retry-after"))
            error = error_from_response(
                response.status_code,
                raw,
                request_id=request_id,
                method=attempt.method,
                path=attempt.path,
                retry_after=retry_after,
            )
            self._redact(error)
            raise error
        if not raw:
            return ApiResponse({}, raw, request_id)
        try:
            data = decode(raw)
        except orjson.JSONDecodeError:
            raise WixApiError(
                200,
                "response body is not JSON",
                request_id=request_id,
                method=attempt.method,
                path=attempt.path,
            ) from None
        if not isinstance(data, dict):
            raise WixApiError(
                200,
                "response body is not a JSON object",
                request_id=request_id,
                method=attempt.method,
                path=attempt.path,
            )
        return ApiResponse(data, raw, request_id)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        operation: str = "other",
        idempotent: bool | None = None,
        decode: Callable[[bytes], Any] = orjson.loads,
    ) -> ApiResponse:
        """Send one logical request (with retries) and return its 200 answer, or raise a typed ``WixError``.

        ``idempotent`` defaults to True for everything except POST; see the module docstring for what it
        changes. ``decode`` turns the 200 body into ``ApiResponse.data`` (it must raise
        ``orjson.JSONDecodeError`` on invalid JSON); bulk readers pass one that keeps only what paging needs
        (:func:`~wix_pipelines.wix.skeleton.decode_skeleton`), ``raw`` always holds the whole body.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method != "POST"
        attempt = _Attempt(method, path, idempotent)
        content = orjson.dumps(json) if json is not None else None
        retrying = Retrying(
            retry=retry_if_exception(lambda exc: self._is_retryable(exc, attempt)),
            wait=self._wait,
            stop=self._stop,
            before_sleep=lambda state: self._before_sleep(state, attempt),
            reraise=True,
        )
        op_token = _current_operation.set(operation)
        attempts = 0
        try:
            for try_ in retrying:
                with try_:
                    attempts = try_.retry_state.attempt_number
                    result = self._send_once(attempt, params, content, decode)
                    result.attempts = attempts
            return result
        except WixApiError as exc:
            exc.attempts = max(exc.attempts, attempts)
            raise
        except httpx.TransportError as exc:
            detail = str(exc) or "no detail"
            raise WixTransportError(
                f"{type(exc).__name__}: {detail}", method=method, path=path, attempts=attempts
            ) from exc
        except WixError:
            raise
        finally:
            _current_operation.reset(op_token)
