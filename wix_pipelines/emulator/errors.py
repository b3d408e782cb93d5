"""Wix error envelopes (SPEC.md §2.4) raised by handlers and rendered by the app."""

from __future__ import annotations

from typing import Any

import orjson


class ApiError(Exception):
    """An error answered with the Wix envelope: `applicationError` unless `violations` are given."""

    def __init__(
        self,
        status: int,
        code: str,
        description: str,
        data: dict[str, Any] | None = None,
        *,
        message: str | None = None,
        violations: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {description}")
        self.status = status
        self.code = code
        self.description = description
        self.data = data or {}
        self.message = message or description
        self.violations = violations
        self.headers = headers or {}

    def body(self) -> bytes:
        if self.status >= 500:
            # System errors carry an empty `details` by design (SPEC.md §2.4).
            return orjson.dumps({"message": self.message, "details": {}})
        if self.violations is not None:
            details: dict[str, Any] = {"validationError": {"fieldViolations": self.violations}}
        else:
            details = {"applicationError": {"code": self.code, "description": self.description, "data": self.data}}
        return orjson.dumps({"message": self.message, "details": details})


def bad_request(code: str, description: str, data: dict[str, Any] | None = None) -> ApiError:
    return ApiError(400, code, description, data)


def validation_error(field: str, description: str, rule: str = "REQUIRED_FIELD") -> ApiError:
    """400 INVALID_ARGUMENT with one field violation, the shape Wix uses for request validation."""
    violation = {
        "field": field,
        "description": description,
        "violatedRule": rule,
        "ruleName": "VALIDATION_ERROR",
        "data": {},
    }
    return ApiError(
        400,
        "INVALID_ARGUMENT",
        description,
        message=f"INVALID_ARGUMENT: {field} {description}",
        violations=[violation],
    )


def not_found(code: str, what: str, ident: str) -> ApiError:
    return ApiError(404, code, f"{what} {ident!r} not found", {"id": ident})
