"""Everything one emulator instance holds: collections, indexes, tokens, stats, faults and emitted events.

HTTP handlers and in-process tests share one `EmulatorState`; every read or write takes `state.lock`, so a test
thread can insert records or script faults while the server thread serves.
"""

from __future__ import annotations

import gc
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from wix_pipelines.emulator import webhooks
from wix_pipelines.emulator.config import API_KEY_WIX_USER_ID, EmulatorConfig
from wix_pipelines.emulator.errors import ApiError
from wix_pipelines.emulator.faults import FaultInjector
from wix_pipelines.emulator.store import Collection, Record
from wix_pipelines.emulator.timeutil import normalize_iso, now_iso

# Every emitted event is kept for tests to replay; a long-running CLI emulator under a write benchmark must not
# grow without bound, so the oldest are dropped past this many.
MAX_KEPT_EVENTS = 200_000
COLLECTIONS = ("contacts", "extended_fields", "reviews", "ratings", "review_requests", "orders")
# Indexed at seed time besides createdDate: what incremental pulls filter on (contacts' `$or` on updatedDate).
INDEXED_FIELDS = {"contacts": ("updatedDate",)}


@dataclass
class TokenInfo:
    app_id: str
    instance_id: str
    expires_at: float


class Stats:
    """Request counts by (method, route template) and a count of writes, for "how many calls" assertions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str]] = Counter()
        self.statuses: Counter[int] = Counter()
        self.writes = 0

    def count_request(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self.requests[(method, route)] += 1
            self.statuses[status] += 1

    def count_write(self, n: int = 1) -> None:
        with self._lock:
            self.writes += n

    @property
    def total_requests(self) -> int:
        with self._lock:
            return sum(self.requests.values())

    def count(self, method: str, route: str) -> int:
        with self._lock:
            return self.requests[(method, route)]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.statuses.clear()
            self.writes = 0

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": {f"{m} {r}": n for (m, r), n in sorted(self.requests.items())},
                "total": sum(self.requests.values()),
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "writes": self.writes,
            }


class EmulatorState:
    """The data and bookkeeping of one emulator; safe to use from tests through its methods."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.lock = threading.RLock()
        self.stats = Stats()
        self.faults = FaultInjector(self.config.faults)
        self.private_key = webhooks.process_private_key()
        self.public_key_pem = webhooks.public_key_pem(self.private_key)
        self.dispatcher = webhooks.WebhookDispatcher(self.config.webhook_url)
        self.events: list[tuple[dict[str, Any], str]] = []  # (envelope, jwt), in emission order
        self.tokens: dict[str, TokenInfo] = {}
        self.collections: dict[str, Collection] = {
            name: Collection(name, indexed_fields=INDEXED_FIELDS.get(name, ())) for name in COLLECTIONS
        }
        self._clear_indexes()
        self.seed()

    # ------------------------------------------------------------------------------------- collections

    @property
    def contacts(self) -> Collection:
        return self.collections["contacts"]

    @property
    def extended_fields(self) -> Collection:
        return self.collections["extended_fields"]

    @property
    def reviews(self) -> Collection:
        return self.collections["reviews"]

    @property
    def ratings(self) -> Collection:
        return self.collections["ratings"]

    @property
    def review_requests(self) -> Collection:
        return self.collections["review_requests"]

    @property
    def orders(self) -> Collection:
        return self.collections["orders"]

    def _clear_indexes(self) -> None:
        self.merged_into: dict[str, str] = {}
        self.email_index: dict[str, set[str]] = {}
        self.phone_index: dict[str, set[str]] = {}
        self.review_keys: dict[tuple[str, str, str], str] = {}
        self.rating_keys: dict[tuple[str, str, str, str, str], str] = {}
        self.products: list[str] = []
        self.sequences: dict[str, int] = {}

    # ------------------------------------------------------------------------------------------ seeding

    def seed(self) -> None:
        """Fill the collections from the config (deterministic from `config.seed`)."""
        from wix_pipelines.emulator import seed as seed_module  # seed imports domain helpers

        with self.lock:
            # A big seed is millions of small objects: the cyclic GC would rescan them all, over and over,
            # while seeding and later while serving (multi-second pauses at 100k contacts). Seeded records
            # hold no cycles, so pause the GC while loading and then freeze them out of its generations.
            config = self.config
            big = config.contacts + config.reviews + config.ratings + config.review_requests >= 10_000
            was_enabled = gc.isenabled()
            gc.disable()
            try:
                seed_module.load_seed(self)
            finally:
                if was_enabled:
                    gc.enable()
                if big:  # small seeds don't need it, and freezing keeps a test process's garbage forever
                    gc.freeze()

    def reset(self) -> None:
        """Back to the freshly seeded state: data, tokens, stats, scripted faults and recorded events."""
        with self.lock:
            for collection in self.collections.values():
                collection.clear()
            self._clear_indexes()
            self.tokens.clear()
            self.events.clear()
            self.stats.reset()
            self.faults.clear()
            self.faults.configure(
                rate_429=self.config.faults.rate_429,
                rate_5xx=self.config.faults.rate_5xx,
                latency_ms=self.config.faults.latency_ms,
                seed=self.config.faults.seed,
            )
            self.seed()

    # ------------------------------------------------------------------------------------ index upkeep

    def index_contact(self, old: Record | None, new: Record | None) -> None:
        """Keep the duplicate-detection indexes (emails case-insensitive, phones by digits) current."""
        for record, add in ((old, False), (new, True)):
            if record is None:
                continue
            for email in contact_emails(record):
                bucket = self.email_index.setdefault(email, set())
                (bucket.add if add else bucket.discard)(record["id"])
            for phone in contact_phones(record):
                bucket = self.phone_index.setdefault(phone, set())
                (bucket.add if add else bucket.discard)(record["id"])

    def index_review(self, old: Record | None, new: Record | None) -> None:
        if old is not None:
            self.review_keys.pop(review_key(old), None)
        if new is not None:
            self.review_keys[review_key(new)] = new["id"]

    def index_rating(self, old: Record | None, new: Record | None) -> None:
        if old is not None:
            self.rating_keys.pop(rating_key(old), None)
        if new is not None:
            self.rating_keys[rating_key(new)] = new["id"]

    def put(self, collection: str, record: Record) -> None:
        """Insert/replace a record and keep the secondary indexes in step (no events, no revision bump)."""
        with self.lock:
            target = self.collections[collection]
            old = target.get(record["id"])
            if collection == "contacts":
                self.index_contact(old, record)
            elif collection == "reviews":
                self.index_review(old, record)
            elif collection == "ratings":
                self.index_rating(old, record)
            target.put(record)

    def delete(self, collection: str, record_id: str) -> Record | None:
        with self.lock:
            old = self.collections[collection].remove(record_id)
            if old is not None:
                if collection == "contacts":
                    self.index_contact(old, None)
                elif collection == "reviews":
                    self.index_review(old, None)
                elif collection == "ratings":
                    self.index_rating(old, None)
            return old

    def insert_records(self, collection: str, records: list[Record]) -> list[Record]:
        """Admin insert of raw records (chosen createdDate etc.) for tests of late or tied records.

        Missing ids are generated, timestamps normalized to the wire format; contacts get their derived
        fields filled in. No webhooks fire: this is a backdoor, not an API call.
        """
        from wix_pipelines.emulator import contacts as contact_ops

        if collection not in self.collections:
            raise ApiError(404, "UNKNOWN_COLLECTION", f"no collection {collection!r}; use one of {COLLECTIONS}")
        stored: list[Record] = []
        with self.lock:
            for raw in records:
                record = dict(raw)
                record.setdefault("id", new_id())
                now = now_iso()
                for key in ("createdDate", "updatedDate"):
                    if isinstance(record.get(key), str):
                        record[key] = normalize_iso(record[key])
                if collection != "orders":
                    record.setdefault("createdDate", now)
                    record.setdefault("updatedDate", record["createdDate"])
                if collection == "contacts":
                    record = contact_ops.complete_contact(record)
                elif collection in ("reviews", "ratings", "review_requests"):
                    record["revision"] = str(record.get("revision", "1"))
                self.put(collection, record)
                stored.append(record)
            self.stats.count_write(len(stored))
        return stored

    # ------------------------------------------------------------------------------------------- tokens

    def issue_token(self, app_id: str, instance_id: str) -> tuple[str, int]:
        with self.lock:
            token = "OauthNG.JWS." + secrets.token_urlsafe(32)
            ttl = int(self.config.token_ttl_s)
            self.tokens[token] = TokenInfo(app_id, instance_id, time.time() + ttl)
            return token, ttl

    def expire_tokens(self) -> int:
        """Make every issued OAuth token expired now (tests of token refresh)."""
        with self.lock:
            for info in self.tokens.values():
                info.expires_at = 0.0
            return len(self.tokens)

    # ------------------------------------------------------------------------------------------- events

    def emit(
        self,
        event_type: str,
        entity_fqdn: str,
        slug: str,
        entity_id: str,
        identity: dict[str, Any],
        **body: Any,
    ) -> dict[str, Any]:
        """Record, sign and (when a webhook URL is set) deliver one event."""
        with self.lock:
            seq = self.sequences.get(entity_id, 0) + 1
            self.sequences[entity_id] = seq
            event = webhooks.build_event(entity_fqdn, slug, entity_id, sequence=seq, **body)
            envelope = webhooks.build_envelope(
                event_type,
                event,
                identity,
                instance_id=self.config.instance_id,
                account_id=self.config.account_id,
                site_id=self.config.site_id,
            )
            token = webhooks.sign_envelope(envelope, self.private_key, self.config.app_id)
            self.events.append((envelope, token))
            if len(self.events) > MAX_KEPT_EVENTS:
                del self.events[: len(self.events) - MAX_KEPT_EVENTS // 2]
            self.dispatcher.submit(token)
            return envelope

    def set_webhook_url(self, url: str | None) -> None:
        self.config.webhook_url = url
        self.dispatcher.url = url

    def close(self) -> None:
        self.dispatcher.stop()


# ------------------------------------------------------------------------------------------ helpers


def new_id() -> str:
    import uuid

    return str(uuid.uuid4())


def api_key_identity() -> dict[str, Any]:
    return {"identityType": "WIX_USER", "wixUserId": API_KEY_WIX_USER_ID}


def contact_emails(record: Record) -> list[str]:
    items = ((record.get("info") or {}).get("emails") or {}).get("items") or []
    return [str(i["email"]).strip().lower() for i in items if i.get("email")]


def contact_phones(record: Record) -> list[str]:
    items = ((record.get("info") or {}).get("phones") or {}).get("items") or []
    return [phone_digits(i) for i in items if i.get("phone") or i.get("e164Phone")]


def phone_digits(item: dict[str, Any]) -> str:
    """Phones compare by E.164 when known, else by digits, so `555-010` and `555 010` are the same."""
    if item.get("e164Phone"):
        return str(item["e164Phone"])
    return "".join(ch for ch in str(item.get("phone", "")) if ch.isdigit())


def review_key(record: Record) -> tuple[str, str, str]:
    return (
        str(record.get("namespace", "")),
        str(record.get("entityId", "")),
        str((record.get("author") or {}).get("contactId", "")),
    )


def rating_owner_key(owner: dict[str, Any]) -> str:
    for field_name in ("contactId", "memberId", "anonymousVisitorId"):
        if owner.get(field_name):
            return f"{field_name}:{owner[field_name]}"
    return ""


def rating_key(record: Record) -> tuple[str, str, str, str, str]:
    return (
        str(record.get("namespace", "")),
        str(record.get("group", "")),
        str(record.get("entityId", "")),
        str(record.get("attributeName", "")),
        rating_owner_key(record.get("owner") or {}),
    )
