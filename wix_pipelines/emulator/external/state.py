"""What the external-system emulator holds: records with its own ids, a change feed, tokens, counters, faults.

The emulated system is a small CRM/eCommerce back office ("Acme"): ids look like ``acme-c-000001``, records
carry ``createdAt``/``updatedAt``/``version``, every write appends to a change feed with a monotonic cursor and
the *actor* (the client name of the token that wrote, or the name a test passes), and natural keys are unique
(contact email; product+author for reviews; product+attribute+owner for ratings). Tests act as a person in the
external system through the same methods with ``actor="crm-user"``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

KINDS = ("contacts", "reviews", "ratings")
ID_PREFIX = {"contacts": "acme-c-", "reviews": "acme-r-", "ratings": "acme-t-"}
# Fixed emulator tokens (not secrets of any real system): the sync's and a person's.
SYNC_TOKEN = "acme-sync-token"
USER_TOKEN = "acme-user-token"
DEFAULT_TOKENS = {SYNC_TOKEN: "wix-sync", USER_TOKEN: "crm-user"}


def now_iso() -> str:
    ns = time.time_ns()
    seconds, rest = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1000:06d}Z"


class ExternalApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


@dataclass
class Fault:
    """A scripted failure of the next matching writes.

    ``mode="before"`` refuses the write (nothing stored); ``mode="after"`` stores it and *then* answers 500,
    the ambiguous failure a lost response causes, which is what idempotency keys exist for. ``skip`` lets that
    many matching writes through first (fail "halfway").
    """

    count: int = 1
    skip: int = 0
    mode: str = "before"
    status: int = 500
    kind: str | None = None
    op: str | None = None  # create / update / delete, or None for any write


@dataclass
class ExternalConfig:
    tokens: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TOKENS))


def natural_key(kind: str, fields: dict[str, Any]) -> tuple[Any, ...] | None:
    if kind == "contacts":
        email = fields.get("email")
        return (str(email).strip().lower(),) if email else None
    if kind == "reviews":
        return (fields.get("productId"), fields.get("authorId"))
    return (fields.get("productId"), fields.get("attribute"), fields.get("ownerId"))


class ExternalState:
    """Thread-safe: the server thread and test threads share one instance."""

    def __init__(self, config: ExternalConfig | None = None) -> None:
        self.config = config or ExternalConfig()
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.records: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in KINDS}
            self.keys: dict[str, dict[tuple[Any, ...], str]] = {k: {} for k in KINDS}
            self.changes: list[dict[str, Any]] = []
            self.idempotency: dict[str, str] = {}
            self.counters = {k: 0 for k in KINDS}
            self.writes: Counter[tuple[str, str, str]] = Counter()  # (kind, op, actor)
            self.requests: Counter[str] = Counter()
            self.faults: list[Fault] = []

    # ---------------------------------------------------------------------------------- bookkeeping

    def actor_for_token(self, token: str) -> str | None:
        return self.config.tokens.get(token)

    def write_count(self, kind: str | None = None, op: str | None = None, actor: str | None = None) -> int:
        with self.lock:
            return sum(
                n
                for (k, o, a), n in self.writes.items()
                if (kind is None or k == kind) and (op is None or o == op) and (actor is None or a == actor)
            )

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def _fault_for(self, kind: str, op: str) -> Fault | None:
        for fault in self.faults:
            if fault.count <= 0 or (fault.kind and fault.kind != kind) or (fault.op and fault.op != op):
                continue
            if fault.skip > 0:
                fault.skip -= 1
                return None
            fault.count -= 1
            return fault
        return None

    def _record_change(self, kind: str, record_id: str, op: str, actor: str) -> None:
        feed_op = "delete" if op == "delete" else "upsert"
        self.changes.append(
            {
                "cursor": len(self.changes) + 1,
                "kind": kind,
                "id": record_id,
                "op": feed_op,
                "actor": actor,
                "at": now_iso(),
            }
        )
        self.writes[(kind, feed_op, actor)] += 1

    def _check_kind(self, kind: str) -> None:
        if kind not in KINDS:
            raise ExternalApiError(404, "UNKNOWN_KIND", f"no collection {kind!r}; use one of {KINDS}")

    # ---------------------------------------------------------------------------------- operations

    def get(self, kind: str, record_id: str) -> dict[str, Any] | None:
        self._check_kind(kind)
        with self.lock:
            record = self.records[kind].get(record_id)
            return _copy(record) if record else None

    def list(self, kind: str, offset: int = 0, limit: int = 100) -> tuple[list[dict[str, Any]], int]:
        self._check_kind(kind)
        with self.lock:
            ordered = sorted(self.records[kind].values(), key=lambda r: r["id"])
            return [_copy(r) for r in ordered[offset : offset + limit]], len(ordered)

    def find(self, kind: str, key_fields: dict[str, Any]) -> dict[str, Any] | None:
        self._check_kind(kind)
        key = natural_key(kind, key_fields)
        with self.lock:
            record_id = self.keys[kind].get(key) if key else None
            return _copy(self.records[kind][record_id]) if record_id else None

    def create(
        self, kind: str, fields: dict[str, Any], actor: str, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        self._check_kind(kind)
        with self.lock:
            if idempotency_key and idempotency_key in self.idempotency:
                existing = self.records[kind].get(self.idempotency[idempotency_key])
                if existing is not None:
                    return _copy(existing)
            fault = self._fault_for(kind, "create")
            if fault and fault.mode == "before":
                raise ExternalApiError(fault.status, "INJECTED_FAULT", "injected failure before the create")
            key = natural_key(kind, fields)
            if key is None:
                raise ExternalApiError(400, "MISSING_KEY", f"{kind} need their natural-key fields")
            if key in self.keys[kind]:
                existing_id = self.keys[kind][key]
                raise ExternalApiError(
                    409, "DUPLICATE", f"{kind} {key} exists as {existing_id}", existingId=existing_id
                )
            self.counters[kind] += 1
            now = now_iso()
            record = {
                "id": f"{ID_PREFIX[kind]}{self.counters[kind]:06d}",
                "fields": {k: v for k, v in fields.items() if v is not None},
                "createdAt": now,
                "updatedAt": now,
                "version": 1,
            }
            self.records[kind][record["id"]] = record
            self.keys[kind][key] = record["id"]
            if idempotency_key:
                self.idempotency[idempotency_key] = record["id"]
            self._record_change(kind, record["id"], "create", actor)
            if fault:  # mode "after": stored, but the caller never hears so
                raise ExternalApiError(fault.status, "INJECTED_FAULT", "injected failure after the create")
            return _copy(record)

    def update(self, kind: str, record_id: str, fields: dict[str, Any], actor: str) -> dict[str, Any]:
        self._check_kind(kind)
        with self.lock:
            record = self.records[kind].get(record_id)
            if record is None:
                raise ExternalApiError(404, "NOT_FOUND", f"{kind} {record_id} does not exist")
            fault = self._fault_for(kind, "update")
            if fault and fault.mode == "before":
                raise ExternalApiError(fault.status, "INJECTED_FAULT", "injected failure before the update")
            merged = dict(record["fields"])
            for k, v in fields.items():
                if v is None:
                    merged.pop(k, None)
                else:
                    merged[k] = v
            new_key = natural_key(kind, merged)
            old_key = natural_key(kind, record["fields"])
            if new_key != old_key:
                if new_key in self.keys[kind]:
                    other = self.keys[kind][new_key]
                    raise ExternalApiError(409, "DUPLICATE", f"{kind} {new_key} exists as {other}", existingId=other)
                self.keys[kind].pop(old_key, None)  # type: ignore[arg-type]
                self.keys[kind][new_key] = record_id  # type: ignore[index]
            record["fields"] = merged
            record["updatedAt"] = now_iso()
            record["version"] += 1
            self._record_change(kind, record_id, "update", actor)
            if fault:
                raise ExternalApiError(fault.status, "INJECTED_FAULT", "injected failure after the update")
            return _copy(record)

    def delete(self, kind: str, record_id: str, actor: str) -> None:
        self._check_kind(kind)
        with self.lock:
            record = self.records[kind].get(record_id)
            if record is None:
                raise ExternalApiError(404, "NOT_FOUND", f"{kind} {record_id} does not exist")
            fault = self._fault_for(kind, "delete")
            if fault and fault.mode == "before":
                raise ExternalApiError(fault.status, "INJECTED_FAULT", "injected failure before the delete")
            del self.records[kind][record_id]
            self.keys[kind].pop(natural_key(kind, record["fields"]), None)  # type: ignore[arg-type]
            self._record_change(kind, record_id, "delete", actor)
            if fault:
                raise ExternalApiError(fault.status, "INJECTED_FAULT", "injected failure after the delete")

    def changes_after(self, cursor: int, limit: int) -> tuple[list[dict[str, Any]], int, bool]:
        with self.lock:
            batch = [dict(c) for c in self.changes[cursor : cursor + limit]]
            next_cursor = batch[-1]["cursor"] if batch else cursor
            return batch, next_cursor, next_cursor < len(self.changes)

    def live(self, kind: str) -> list[dict[str, Any]]:
        """Every record of a kind (tests compare both sides with it)."""
        with self.lock:
            return [_copy(r) for r in self.records[kind].values()]


def _copy(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "fields": dict(record["fields"])}
