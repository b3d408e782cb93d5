"""The durable webhook inbox: an append-only SQLite file the receiver writes and the Dagster sensor reads.

Not the DuckDB warehouse on purpose: DuckDB allows one writing process and a reader blocks it, while the
receiver must write at any moment and the sensor must read at any moment. SQLite in WAL mode lets one writer
and many readers work at once, and the event id as primary key makes a replayed event a constraint hit
instead of a second row. ``seq`` (an INTEGER PRIMARY KEY AUTOINCREMENT) is the order of arrival: the sensor's
cursor and the ranges its run keys name.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from wix_pipelines.wix.models import WebhookEvent

DEFAULT_INBOX_PATH = Path("data/webhooks/inbox.sqlite3")

_DDL = """
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL UNIQUE,
  event_type TEXT,
  entity_fqdn TEXT,
  slug TEXT,
  entity_id TEXT,
  identity TEXT,
  envelope TEXT NOT NULL,
  event_time TEXT,
  received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)
"""


class ReplayedEventError(Exception):
    """The event id was accepted before: a replay (or a duplicate delivery)."""

    def __init__(self, event_id: str) -> None:
        super().__init__(f"event {event_id} was already received")
        self.event_id = event_id


@dataclass(frozen=True)
class InboxEvent:
    seq: int
    event_id: str
    event_type: str | None
    entity_fqdn: str | None
    slug: str | None
    entity_id: str | None
    identity: dict[str, Any]
    envelope: dict[str, Any]
    event_time: str | None
    received_at: str

    @property
    def event(self) -> WebhookEvent:
        return WebhookEvent.from_envelope(self.envelope)


class WebhookInbox:
    """One inbox file. Writers share one connection under a lock; readers open their own read-only ones."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._con: sqlite3.Connection | None = None

    def _writer(self) -> sqlite3.Connection:
        if self._con is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            con.execute("PRAGMA journal_mode=WAL")
            # FULL: once we answer 200 Wix never redelivers, so an acknowledged event must be on disk.
            con.execute("PRAGMA synchronous=FULL")
            con.execute(_DDL)
            self._con = con
        return self._con

    def ensure(self) -> None:
        with self._lock:
            self._writer()

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def append(self, event: WebhookEvent) -> int:
        """Store a verified event; returns its seq. Raises ReplayedEventError for an event id seen before."""
        data = event.data
        if not data.id:
            raise ValueError("the event has no id: it cannot be de-duplicated")
        envelope = event.model_dump(mode="json", by_alias=True, exclude={"claims"})
        identity = event.identity.model_dump(mode="json", by_alias=True, exclude_none=True) if event.identity else {}
        row = (
            data.id,
            event.event_type,
            data.entity_fqdn,
            data.slug,
            data.entity_id,
            orjson.dumps(identity).decode(),
            orjson.dumps(envelope).decode(),
            envelope["data"].get("eventTime"),
        )
        with self._lock:
            con = self._writer()
            cursor = con.execute(
                "INSERT OR IGNORE INTO events (event_id, event_type, entity_fqdn, slug, entity_id, identity, envelope,"
                " event_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            if cursor.rowcount == 0:
                raise ReplayedEventError(data.id)
            return int(cursor.lastrowid or 0)

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection | None]:
        if not self.path.exists():
            yield None
            return
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            yield con
        finally:
            con.close()

    def max_seq(self) -> int:
        with self._reader() as con:
            if con is None:
                return 0
            return int(con.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

    def read(self, after_seq: int = 0, *, up_to_seq: int | None = None, limit: int = 1000) -> list[InboxEvent]:
        """Events with after_seq < seq <= up_to_seq, in arrival order."""
        with self._reader() as con:
            if con is None:
                return []
            rows = con.execute(
                "SELECT seq, event_id, event_type, entity_fqdn, slug, entity_id, identity, envelope, event_time,"
                " received_at FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                (after_seq, up_to_seq if up_to_seq is not None else 2**62, limit),
            ).fetchall()
        return [
            InboxEvent(r[0], r[1], r[2], r[3], r[4], r[5], orjson.loads(r[6]), orjson.loads(r[7]), r[8], r[9])
            for r in rows
        ]
