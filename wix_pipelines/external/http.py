"""`HttpExternalAdapter`: the adapter for an external system that speaks the emulator's REST contract.

Wire format: see ``wix_pipelines/emulator/external/app.py``. Every call is safe to retry — reads and deletes by
nature, creates because they carry an ``Idempotency-Key``, updates because they set absolute values — so 5xx,
429 and dropped connections are retried a few times with backoff before the error reaches the sync.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import orjson

from .contract import (
    Change,
    ChangeBatch,
    DuplicateRecordError,
    ExternalAdapter,
    ExternalRecord,
    ExternalSystemError,
    Kind,
)

_RETRY_STATUSES = {429, 500, 502, 503, 504}
_SSL_CONTEXT: ssl.SSLContext | None = None


def _ssl_context() -> ssl.SSLContext:
    """One verified TLS context per process: building one reads the CA bundle (~0.1 s), and sensors and ops
    open an adapter per tick or run."""
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        _SSL_CONTEXT = ssl.create_default_context()
    return _SSL_CONTEXT


def _record(kind: Kind, raw: Mapping[str, Any]) -> ExternalRecord:
    return ExternalRecord(
        kind=kind,
        id=str(raw["id"]),
        fields=dict(raw.get("fields") or {}),
        created_at=raw.get("createdAt"),
        updated_at=raw.get("updatedAt"),
        version=raw.get("version"),
    )


class HttpExternalAdapter(ExternalAdapter):
    """The external system at ``base_url``, authenticated with a bearer token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        name: str = "acme-crm",
        timeout: float = 10.0,
        max_attempts: int = 3,
        backoff_s: float = 0.1,
        page_size: int = 200,
    ) -> None:
        self.name = name
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self.page_size = page_size
        self.requests = 0
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            verify=_ssl_context(),
        )

    def __repr__(self) -> str:  # never the token
        return f"HttpExternalAdapter({str(self._http.base_url)!r})"

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------------------------------ transport

    def _call(
        self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None, headers: Any = None
    ) -> httpx.Response:
        last: Exception | None = None
        for attempt in range(self.max_attempts):
            if attempt:
                time.sleep(self.backoff_s * (2 ** (attempt - 1)))
            self.requests += 1
            try:
                content = orjson.dumps(json) if json is not None else None
                hdrs = {"Content-Type": "application/json", **(headers or {})} if content is not None else headers
                response = self._http.request(method, path, content=content, params=params, headers=hdrs)
            except httpx.TransportError as exc:
                last = ExternalSystemError(f"{method} {path}: {type(exc).__name__}: {exc}", retryable=True)
                continue
            if response.status_code in _RETRY_STATUSES:
                last = self._error(method, path, response)
                continue
            return response
        assert last is not None
        raise last

    @staticmethod
    def _error(method: str, path: str, response: httpx.Response) -> ExternalSystemError:
        try:
            error = orjson.loads(response.content).get("error") or {}
        except (orjson.JSONDecodeError, AttributeError):
            error = {}
        message = (
            f"{method} {path} failed with HTTP {response.status_code}: {error.get('message', response.text[:200])}"
        )
        return ExternalSystemError(
            message, status=response.status_code, retryable=response.status_code in _RETRY_STATUSES
        )

    def _ok(self, method: str, path: str, response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 300:
            raise self._error(method, path, response)
        return orjson.loads(response.content) if response.content else {}

    # ------------------------------------------------------------------------------------------ contract

    def list_changes(self, cursor: str | None, *, limit: int = 200) -> ChangeBatch:
        params = {"cursor": cursor or "0", "limit": limit}
        data = self._ok("GET", "/api/v1/changes", self._call("GET", "/api/v1/changes", params=params))
        return ChangeBatch(
            changes=[Change.model_validate(c) for c in data.get("changes") or []],
            next_cursor=data.get("nextCursor") or cursor,
            has_more=bool(data.get("hasMore")),
        )

    def get(self, kind: Kind, external_id: str) -> ExternalRecord | None:
        path = f"/api/v1/{kind}/{external_id}"
        response = self._call("GET", path)
        if response.status_code == 404:
            return None
        return _record(kind, self._ok("GET", path, response)["record"])

    def iter_all(self, kind: Kind) -> Iterator[ExternalRecord]:
        # Offset paging over a set ordered by id: the sync reads it with no concurrent writer of its own.
        offset = 0
        path = f"/api/v1/{kind}"
        while True:
            params = {"offset": offset, "limit": self.page_size}
            data = self._ok("GET", path, self._call("GET", path, params=params))
            records = data.get("records") or []
            for raw in records:
                yield _record(kind, raw)
            offset += len(records)
            if not records or offset >= int(data.get("total") or 0):
                return

    def find(self, kind: Kind, key: Mapping[str, Any]) -> ExternalRecord | None:
        path = f"/api/v1/{kind}/find"
        response = self._call("POST", path, json={"fields": dict(key)})
        if response.status_code == 404:
            return None
        return _record(kind, self._ok("POST", path, response)["record"])

    def create(self, kind: Kind, fields: Mapping[str, Any], *, idempotency_key: str) -> ExternalRecord:
        path = f"/api/v1/{kind}"
        response = self._call("POST", path, json={"fields": dict(fields)}, headers={"Idempotency-Key": idempotency_key})
        if response.status_code == 409:
            error = orjson.loads(response.content).get("error") or {}
            if error.get("existingId"):
                raise DuplicateRecordError(kind, str(error["existingId"]), error.get("message", ""))
        return _record(kind, self._ok("POST", path, response)["record"])

    def update(self, kind: Kind, external_id: str, fields: Mapping[str, Any]) -> ExternalRecord | None:
        path = f"/api/v1/{kind}/{external_id}"
        response = self._call("PATCH", path, json={"fields": dict(fields)})
        if response.status_code == 404:
            return None
        if response.status_code == 409:
            error = orjson.loads(response.content).get("error") or {}
            raise DuplicateRecordError(kind, str(error.get("existingId", "")), error.get("message", ""))
        return _record(kind, self._ok("PATCH", path, response)["record"])

    def delete(self, kind: Kind, external_id: str) -> bool:
        path = f"/api/v1/{kind}/{external_id}"
        response = self._call("DELETE", path)
        if response.status_code == 404:
            return False
        self._ok("DELETE", path, response)
        return True
