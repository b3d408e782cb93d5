"""Typed errors of the Wix client.

Every error raised by the client is a :class:`WixError`. HTTP failures are :class:`WixApiError` subclasses
chosen by status (SPEC.md §2.4), carrying the application code from ``details.applicationError.code``, the
request id from the ``x-wix-request-id`` header, the method and path (never headers, query strings or bodies,
so no secret can ride along) and how many attempts were spent. Network failures that outlived the retry budget
are :class:`WixTransportError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "FieldViolation",
    "WixApiError",
    "WixAuthenticationError",
    "WixBadRequestError",
    "WixConflictError",
    "WixError",
    "WixNotFoundError",
    "WixPermissionError",
    "WixPreconditionError",
    "WixRateLimitError",
    "WixServerError",
    "WixTransportError",
    "error_from_response",
]

# Error bodies can be large HTML pages from a proxy; keep exception text readable.
_MAX_MESSAGE_CHARS = 500


class WixError(Exception):
    """Base class of everything the Wix client raises."""


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One entry of ``details.validationError.fieldViolations``."""

    field: str | None
    description: str | None
    violated_rule: str | None = None
    rule_name: str | None = None
    data: Mapping[str, Any] | None = None

    def __str__(self) -> str:
        rule = f" [{self.violated_rule}]" if self.violated_rule else ""
        return f"{self.field or '?'}: {self.description or 'invalid'}{rule}"


class WixApiError(WixError):
    """The Wix API answered with a non-200 status.

    Attributes mirror the error envelope: ``code`` is ``details.applicationError.code`` (``None`` for gateway
    and system errors, which carry no details), ``description``/``data`` come from the same object, and
    ``violations`` lists validation problems when the body had ``details.validationError``.
    """

    status_code: int

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        code: str | None = None,
        description: str | None = None,
        data: Mapping[str, Any] | None = None,
        details: Mapping[str, Any] | None = None,
        violations: tuple[FieldViolation, ...] = (),
        request_id: str | None = None,
        method: str = "",
        path: str = "",
        attempts: int = 1,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.message = message
        self.code = code
        self.description = description
        self.data: Mapping[str, Any] = data or {}
        self.details: Mapping[str, Any] = details or {}
        self.violations = violations
        self.request_id = request_id
        self.method = method
        self.path = path
        self.attempts = attempts
        # Seconds the server asked us to wait (429/503 Retry-After); read by the retry policy.
        self.retry_after = retry_after
        super().__init__(status_code, message)

    def __str__(self) -> str:
        parts = [f"{self.method} {self.path} failed with HTTP {self.status_code}"]
        if self.code:
            parts.append(f"code {self.code}")
        text = f"{', '.join(parts)}: {self.message}"
        if self.description and self.description not in self.message:
            text += f" ({self.description})"
        if self.violations:
            text += "; field violations: " + "; ".join(str(v) for v in self.violations)
        if self.attempts > 1:
            text += f" [after {self.attempts} attempts]"
        text += f" [request id {self.request_id or 'none'}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code}, code={self.code!r}, "
            f"method={self.method!r}, path={self.path!r}, request_id={self.request_id!r})"
        )

    @property
    def is_retryable(self) -> bool:
        return False


class WixBadRequestError(WixApiError):
    """400: invalid argument, validation error or unsupported filter."""


class WixAuthenticationError(WixApiError):
    """401: missing, invalid or expired credentials."""


class WixPermissionError(WixApiError):
    """403: the identity is valid but may not do this (or ``wix-site-id`` is missing)."""


class WixNotFoundError(WixApiError):
    """404: the record does not exist."""


class WixConflictError(WixApiError):
    """409: the record already exists, or the revision sent is stale.

    SPEC.md §9: callers treat any 409 on a create as "already exists" whatever the application code.
    """

    @property
    def is_stale_revision(self) -> bool:
        """True when an update lost an optimistic-concurrency race (re-read the record and try again)."""
        code = (self.code or "").upper()
        return code == "CONTACT_ALREADY_CHANGED" or "REVISION" in code

    @property
    def duplicate_id(self) -> str | None:
        """Id of the existing record when the server names it (``duplicateContactId`` and the like)."""
        for key, value in self.data.items():
            if key.startswith("duplicate") and key.endswith("Id") and isinstance(value, str):
                return value
        return None


class WixPreconditionError(WixApiError):
    """428: failed precondition (e.g. ORDER_NOT_FOUND, CANNOT_UPDATE_MEMBER_EMAIL)."""


class WixRateLimitError(WixApiError):
    """429: too many requests or a quota is exhausted."""

    @property
    def is_retryable(self) -> bool:
        return True


class WixServerError(WixApiError):
    """5xx: the server failed; 500/502/503/504 are retried before this is raised."""

    @property
    def is_retryable(self) -> bool:
        return self.status_code in (500, 502, 503, 504)


class WixTransportError(WixError):
    """The request never got an HTTP answer (timeout, refused or dropped connection) within the retry
    budget."""

    def __init__(self, message: str, *, method: str = "", path: str = "", attempts: int = 1) -> None:
        self.message = message
        self.method = method
        self.path = path
        self.attempts = attempts
        super().__init__(message)

    def __str__(self) -> str:
        text = f"{self.method} {self.path} got no HTTP response: {self.message}"
        if self.attempts > 1:
            text += f" [after {self.attempts} attempts]"
        return text

    def __repr__(self) -> str:
        return f"WixTransportError(method={self.method!r}, path={self.path!r}, attempts={self.attempts})"


_BY_STATUS: dict[int, type[WixApiError]] = {
    400: WixBadRequestError,
    401: WixAuthenticationError,
    403: WixPermissionError,
    404: WixNotFoundError,
    409: WixConflictError,
    428: WixPreconditionError,
    429: WixRateLimitError,
}


def _error_class(status: int) -> type[WixApiError]:
    if status >= 500:
        return WixServerError
    return _BY_STATUS.get(status, WixApiError)


def _violations(details: Mapping[str, Any]) -> tuple[FieldViolation, ...]:
    validation = details.get("validationError")
    if not isinstance(validation, Mapping):
        return ()
    out = []
    for item in validation.get("fieldViolations") or ():
        if isinstance(item, Mapping):
            out.append(
                FieldViolation(
                    field=item.get("field"),
                    description=item.get("description"),
                    violated_rule=item.get("violatedRule"),
                    rule_name=item.get("ruleName"),
                    data=item.get("data") or None,
                )
            )
    return tuple(out)


def error_from_response(
    status: int,
    body: bytes,
    *,
    request_id: str | None,
    method: str,
    path: str,
    retry_after: float | None = None,
    attempts: int = 1,
) -> WixApiError:
    """Build the typed error for a non-200 answer from its raw body (any shape, even not JSON)."""
    payload: Any = None
    if body:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            payload = None
    message = ""
    details: Mapping[str, Any] = {}
    code = description = None
    data: Mapping[str, Any] | None = None
    if isinstance(payload, Mapping):
        message = str(payload.get("message") or "")
        raw_details = payload.get("details")
        details = raw_details if isinstance(raw_details, Mapping) else {}
        app_error = details.get("applicationError")
        if isinstance(app_error, Mapping):
            code = app_error.get("code") or None
            description = app_error.get("description") or None
            raw_data = app_error.get("data")
            data = raw_data if isinstance(raw_data, Mapping) else None
    elif body:
        message = body[:_MAX_MESSAGE_CHARS].decode("utf-8", "replace").strip()
    if not message:
        message = description or f"HTTP {status}"
    return _error_class(status)(
        status,
        message[:_MAX_MESSAGE_CHARS],
        code=code,
        description=description,
        data=data,
        details=details,
        violations=_violations(details),
        request_id=request_id,
        method=method,
        path=path,
        attempts=attempts,
        retry_after=retry_after,
    )
