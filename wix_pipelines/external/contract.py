"""The contract an external CRM / eCommerce system fulfils so the two-way sync can drive it.

Write one adapter per external system (see README.md in this folder). The sync only ever talks to an
:class:`ExternalAdapter`; it never knows about HTTP, SDKs or the system's own ids beyond the strings handed back.

Three record kinds cross the sync: ``contacts`` (the external system's authors/customers), ``reviews`` and
``ratings``. A record is a flat bag of *external* field names (``ExternalRecord.fields``); which Wix field maps to
which external field is the sync's field-mapping config, not the adapter's business. The fields the sync relies
on are the natural keys it uses to link and de-duplicate:

| kind | natural key fields | other fields (default mapping) |
|---|---|---|
| contacts | ``email`` (case-insensitive, unique) | ``firstName``, ``lastName``, ``phone``, ``company`` |
| reviews | ``productId`` + ``authorId`` (an external contact id) | ``title``, ``body``, ``rating``, ``status`` |
| ratings | ``productId`` + ``attribute`` + ``ownerId`` | ``value`` |

Guarantees an adapter must give (the sync's exactly-once and no-loop promises stand on them):

* ``list_changes(cursor)`` returns every create/update/delete made after ``cursor``, in order, at least once;
  the returned ``next_cursor`` resumes after the last change returned. Duplicates are fine (the sync compares
  states), gaps are not. ``actor`` names who made the change when the system knows it (the sync's own token
  vs. a person), like the identity on a Wix webhook.
* ``create(kind, fields, idempotency_key=...)``: a second call with the same key returns the record the first
  one made (a retried push after a lost answer must not make a copy). A natural-key clash raises
  :class:`DuplicateRecordError` carrying the existing record's id.
* ``get`` returns None for an unknown id; ``delete`` returns False for an unknown id (already gone is done).
* ``updated_at`` is the system's last-modified time: the default conflict policy (newest wins) reads it.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["contacts", "reviews", "ratings"]
KINDS: tuple[Kind, ...] = ("contacts", "reviews", "ratings")
ChangeOp = Literal["upsert", "delete"]


class ExternalRecord(BaseModel):
    """One record of the external system: its own id, its fields (external names) and its modification time."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    id: str
    fields: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int | None = None


class Change(BaseModel):
    """One entry of the external change feed."""

    model_config = ConfigDict(frozen=True)

    cursor: str
    kind: Kind
    id: str
    op: ChangeOp
    actor: str | None = None
    at: datetime | None = None


class ChangeBatch(BaseModel):
    changes: list[Change] = Field(default_factory=list)
    next_cursor: str | None = None
    has_more: bool = False


class ExternalSystemError(Exception):
    """The external system failed or answered something the adapter cannot use."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class DuplicateRecordError(ExternalSystemError):
    """A create clashed with an existing record's natural key (same email; same product and author...)."""

    def __init__(self, kind: Kind, existing_id: str, message: str = "") -> None:
        super().__init__(message or f"{kind}: a record with the same natural key exists ({existing_id})", status=409)
        self.kind = kind
        self.existing_id = existing_id


class ExternalAdapter(abc.ABC):
    """What the sync needs from an external system. Implementations must be safe to call from one thread."""

    #: A short name for logs, the echo ledger and the ``sync_*`` tables (e.g. ``"acme-crm"``).
    name: str = "external"

    @abc.abstractmethod
    def list_changes(self, cursor: str | None, *, limit: int = 200) -> ChangeBatch:
        """Changes after ``cursor`` (None: from the beginning), oldest first, at most ``limit``."""

    @abc.abstractmethod
    def get(self, kind: Kind, external_id: str) -> ExternalRecord | None:
        """The record, or None when it does not exist (deleted or never was)."""

    @abc.abstractmethod
    def iter_all(self, kind: Kind) -> Iterator[ExternalRecord]:
        """Every live record of a kind (full reconciliation and the initial setup read this)."""

    @abc.abstractmethod
    def find(self, kind: Kind, key: Mapping[str, Any]) -> ExternalRecord | None:
        """The record whose natural-key fields equal ``key`` (e.g. ``{"email": ...}``), or None."""

    @abc.abstractmethod
    def create(self, kind: Kind, fields: Mapping[str, Any], *, idempotency_key: str) -> ExternalRecord:
        """Create a record; same ``idempotency_key`` → same record. Raises :class:`DuplicateRecordError`."""

    @abc.abstractmethod
    def update(self, kind: Kind, external_id: str, fields: Mapping[str, Any]) -> ExternalRecord | None:
        """Set the given fields (others unchanged); None when the record no longer exists."""

    @abc.abstractmethod
    def delete(self, kind: Kind, external_id: str) -> bool:
        """Delete; False when it was already gone."""

    def close(self) -> None:  # noqa: B027 - optional hook, most adapters hold nothing
        """Release connections."""

    def __enter__(self) -> ExternalAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
