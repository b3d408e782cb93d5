"""The reconciliation engine: bring one pair of records (Wix ↔ external) into step, loop-free and idempotent.

The engine is state-based, not event-based. An event (a Wix webhook, an external change) only says *which*
record to look at; the engine then reads the current record on both sides and compares each with the content
hash stored at the last sync (``sync_map``):

| Wix changed | external changed | action |
|---|---|---|
| no | no | nothing (this is how a delayed, duplicated or replayed event ends) |
| yes | no | push Wix → external |
| no | yes | push external → Wix |
| yes | yes | the conflict policy picks a winner; the loser is kept in ``sync_conflicts`` |

After a push the stored baseline is the hash of what the target *returned*, so the event that write causes on
the other side finds both sides equal to their baselines and ends as an ``echo`` (recognised through the
``sync_ledger`` hash, or the Wix webhook identity of the sync's app). Reordered events cannot roll a record back
because no event payload is ever applied: only current states are.

Idempotency: creates toward the external system carry an idempotency key derived from the Wix id; creates
toward Wix are preceded by a ledger ``intent`` so that a retried job that finds an unmapped record at the
natural key (same contact + entity) knows it is its own lost create and links it instead of creating a copy.
Every mapping commits right after its API call, so a job that died halfway resumes where it stopped.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import duckdb
import orjson

from wix_pipelines.external.contract import (
    KINDS,
    Change,
    DuplicateRecordError,
    ExternalAdapter,
    ExternalRecord,
    Kind,
)
from wix_pipelines.warehouse import deletions, upserts
from wix_pipelines.wix import WixClient
from wix_pipelines.wix.errors import WixConflictError, WixNotFoundError
from wix_pipelines.wix.query import Filter, Query

from . import canonical
from .canonical import content_hash, external_content, wix_content
from .config import Side, SyncConfig
from .store import Mapping as PairMapping
from .store import SyncStore

log = logging.getLogger(__name__)

TO_EXT = "wix->external"
TO_WIX = "external->wix"
Origin = Literal["wix", "external", "reconcile", "setup"]
_MISSING: Any = object()  # "not fetched yet" (None means "fetched: does not exist")
WIX_STREAM = {"contacts": "contacts", "reviews": "reviews", "ratings": "ratings"}
CONTACT_FQDN = "wix.contacts.v4.contact"
FQDN_KIND: dict[str, Kind] = {
    CONTACT_FQDN: "contacts",
    "wix.reviews.v1.review": "reviews",
    "wix.ratings.v1.rating": "ratings",
}


@dataclass
class SyncReport:
    """What a run did: counts by ``kind.direction.op``, and the skips with their reasons."""

    counts: Counter[str] = field(default_factory=Counter)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    conflicts: int = 0
    warehouse_rows_changed: int = 0  # contacts/reviews/ratings rows upserted or marked deleted/merged

    def add(self, kind: str, direction: str, op: str) -> None:
        self.counts[f"{kind}.{direction}.{op}"] += 1

    def total(self, op: str) -> int:
        return sum(n for key, n in self.counts.items() if key.endswith(f".{op}"))

    def as_metadata(self) -> dict[str, Any]:
        return {
            "writes": sum(self.total(op) for op in ("create", "update", "delete", "stamp")),
            "echoes_ignored": self.total("echo"),
            "skipped": len(self.skipped),
            "conflicts": self.conflicts,
            "warehouse_rows_changed": self.warehouse_rows_changed,
            "counts": dict(sorted(self.counts.items())),
        }


def is_site_member(contact: Mapping[str, Any]) -> bool:
    """Site members cannot be deleted through the Contacts API (SPEC.md §3.7); the sync never tries."""
    source = contact.get("source") or {}
    return bool(contact.get("memberInfo")) or source.get("sourceType") == "WIX_SITE_MEMBERS"


def _rating_wire(rating: Any) -> dict[str, Any]:
    """A rating as the API lists it: the model writes the owner back as the seed's ``ratingOwner`` (SPEC.md
    §6.1), but stored records, query pages and the warehouse columns say ``owner``."""
    record = rating.to_wire()
    if "ratingOwner" in record and "owner" not in record:
        record["owner"] = record.pop("ratingOwner")
    return record


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class SyncEngine:
    """One run of the sync over an open warehouse connection. Call :meth:`finish` at the end."""

    def __init__(
        self,
        wix: WixClient,
        external: ExternalAdapter,
        con: duckdb.DuckDBPyConnection,
        config: SyncConfig,
        *,
        run_id: str | None = None,
        dry_run: bool = False,
        logger: logging.Logger | Any | None = None,
    ) -> None:
        self.wix = wix
        self.external = external
        self.con = con
        self.config = config
        self.dry_run = dry_run
        self.run_id = run_id
        self.log = logger or log
        self.store = SyncStore(con, run_id)
        self.store.apply_config(config)
        self.report = SyncReport()
        self._xf_key: str | None = None
        # Wix records read or written in this run, for the warehouse (None: gone) and merges seen.
        self._wix_seen: dict[Kind, dict[str, dict[str, Any] | None]] = {k: {} for k in KINDS}
        self._merges: dict[str, str] = {}
        self._in_progress: set[tuple[str, str, str]] = set()
        # Reviews to create on Wix, sent with Bulk Create (up to 100 a call) when their kind is done.
        self._review_queue: list[tuple[ExternalRecord, dict[str, Any], dict[str, Any]]] = []

    # =============================================================================================== entry

    def handle_wix_events(self, events: Sequence[Any]) -> SyncReport:
        """Inbox events (``InboxEvent``): merges and echoes first, then every touched record once."""
        touched: dict[Kind, set[str]] = {k: set() for k in KINDS}
        for event in events:
            kind = FQDN_KIND.get(event.entity_fqdn or "")
            if kind is None or kind not in self.config.kinds or not event.entity_id:
                continue
            if event.entity_fqdn == CONTACT_FQDN and event.slug == "merged":
                body = (event.envelope.get("data") or {}).get("actionEvent", {}).get("body") or {}
                target = body.get("targetContactId") or event.entity_id
                for source in body.get("sourceContactIds") or []:
                    self._merges[str(source)] = str(target)
                    touched["contacts"].add(str(source))
                touched["contacts"].add(str(target))
                continue
            identity = event.identity or {}
            if self.config.sync_app_id and identity.get("appId") == self.config.sync_app_id:
                # Our own write: nothing to push back. The push that made it already updated the warehouse.
                self._diff(kind, TO_EXT, "echo", event.entity_id, None, "webhook identity is the sync's own app")
                continue
            touched[kind].add(event.entity_id)
        return self.sync_from_wix(touched)

    def handle_external_changes(self, changes: Iterable[Change]) -> SyncReport:
        touched: dict[Kind, set[str]] = {k: set() for k in KINDS}
        actor = self.config.external_sync_actor
        for change in changes:
            if change.kind not in self.config.kinds:
                continue
            if actor and change.actor == actor:
                # Written with the sync's own credentials: our push, already reflected in the baselines.
                self._diff(change.kind, TO_WIX, "echo", None, change.id, f"change made by the sync's actor {actor!r}")
                continue
            touched[change.kind].add(change.id)
        return self.sync_from_external(touched)

    def sync_from_wix(self, ids: Mapping[Kind, Iterable[str]]) -> SyncReport:
        for kind in KINDS:  # contacts first: reviews and ratings need their authors mapped
            for wix_id in sorted(set(ids.get(kind, ()))):
                self.sync_pair(kind, wix_id=wix_id, origin="wix")
        return self.report

    def sync_from_external(self, ids: Mapping[Kind, Iterable[str]]) -> SyncReport:
        for kind in KINDS:
            for ext_id in sorted(set(ids.get(kind, ()))):
                self.sync_pair(kind, external_id=ext_id, origin="external")
            self._flush_reviews()
        return self.report

    def reconcile_all(
        self,
        *,
        origin: Origin = "reconcile",
        delete_unmatched_on: Side | None = None,
        wix_source: Literal["api", "warehouse"] = "api",
    ) -> SyncReport:
        """Every mapped pair and every unmapped record of both sides (the scheduled full reconciliation).

        ``wix_source="warehouse"`` reads the Wix side from the warehouse tables the ingestion keeps current,
        instead of listing the whole site through the API: a pair whose warehouse record and external record
        both still hash to the last sync's baselines is in step and costs no call; every other pair is decided
        on a live read of the Wix record (a stale warehouse row never overwrites anything). The API listing is
        the authority for the initial setup, which deletes.

        With ``delete_unmatched_on`` (the initial setup with a system of record), records of that side with
        no counterpart are deleted instead of copied over (site members excepted).
        """
        from_warehouse = wix_source == "warehouse"
        for kind in self.config.kinds:
            wix_records = (
                self._warehouse_records(kind) if from_warehouse else {r["id"]: r for r in self._wix_list(kind)}
            )
            ext_records = {r.id: r for r in self.external.iter_all(kind)}
            for m in self.store.mappings(kind):
                wix_rec, ext_rec = wix_records.pop(m.wix_id, None), ext_records.pop(m.external_id, None)
                if from_warehouse:
                    if wix_rec is not None and ext_rec is not None and self._at_baseline(kind, m, wix_rec, ext_rec):
                        continue
                    wix_rec = _MISSING
                self.sync_pair(
                    kind, wix_id=m.wix_id, external_id=m.external_id, wix_rec=wix_rec, ext_rec=ext_rec, origin=origin
                )
            # Link before deleting anything: match unmapped records across sides by natural key first.
            for wix_id, record in sorted(wix_records.items()):
                if self.store.by_wix(kind, wix_id) is None:
                    self.sync_pair(
                        kind,
                        wix_id=wix_id,
                        wix_rec=_MISSING if from_warehouse else record,
                        origin=origin,
                        delete_unmatched=delete_unmatched_on == "wix",
                    )
            for ext_id, ext_record in sorted(ext_records.items()):
                if self.store.by_external(kind, ext_id) is None:
                    self.sync_pair(
                        kind,
                        external_id=ext_id,
                        ext_rec=ext_record,
                        origin=origin,
                        delete_unmatched=delete_unmatched_on == "external",
                    )
            self._flush_reviews()
        return self.report

    def _warehouse_records(self, kind: Kind) -> dict[str, dict[str, Any]]:
        rows = self.con.execute(
            f"SELECT id, CAST(record AS VARCHAR) FROM main.{WIX_STREAM[kind]} WHERE deleted_at IS NULL"
        ).fetchall()
        return {str(record_id): orjson.loads(record) for record_id, record in rows}

    def _at_baseline(self, kind: Kind, m: PairMapping, wix_rec: Mapping[str, Any], ext_rec: ExternalRecord) -> bool:
        wix_hash = content_hash(wix_content(kind, wix_rec, self.config))
        return wix_hash == m.wix_hash and content_hash(external_content(kind, ext_rec, self.config)) == m.external_hash

    def finish(self) -> SyncReport:
        """Mark the warehouse with what this run saw of Wix: current records upserted, deleted ones
        ``deleted_at``, merged ones ``merged_into``. Skipped in a dry run (it writes only ``sync_diffs``)."""
        self._flush_reviews()
        if self.dry_run:
            return self.report
        for kind, seen in self._wix_seen.items():
            alive = [r for r in seen.values() if r is not None]
            gone = [i for i, r in seen.items() if r is None and i not in self._merges]
            if alive:
                result = upserts.upsert_batch(self.con, WIX_STREAM[kind], records=alive, run_id=self.run_id)
                self.report.warehouse_rows_changed += result.inserted + result.updated
            if gone:
                self.report.warehouse_rows_changed += deletions.mark_deleted(
                    self.con, WIX_STREAM[kind], gone, run_id=self.run_id
                )
        if self._merges:
            self.report.warehouse_rows_changed += deletions.mark_merged(self.con, self._merges, run_id=self.run_id)
        return self.report

    # ============================================================================================== reads

    def _wix_get(self, kind: Kind, wix_id: str) -> dict[str, Any] | None:
        try:
            if kind == "contacts":
                record = self.wix.contacts.get(wix_id).to_wire()
                if record.get("id") != wix_id:  # Get on a merged-away id answers with the target
                    record = None
            elif kind == "reviews":
                record = self.wix.reviews.get(wix_id, return_private=True).to_wire()
            else:
                record = _rating_wire(self.wix.ratings.get(wix_id))
        except WixNotFoundError:
            record = None
        self._wix_seen[kind][wix_id] = record
        return record

    def _wix_list(self, kind: Kind) -> list[dict[str, Any]]:
        if kind == "contacts":
            pages = self.wix.contacts.iter_created_since(None)
        elif kind == "reviews":
            pages = self.wix.reviews.query_pages()
        else:
            pages = self.wix.ratings.query_pages()
        return [dict(item) for page in pages for item in page.items]

    def _wix_seen_put(self, kind: Kind, record: dict[str, Any] | None, wix_id: str) -> None:
        self._wix_seen[kind][wix_id] = record

    # ============================================================================================== pairs

    def sync_pair(
        self,
        kind: Kind,
        *,
        wix_id: str | None = None,
        external_id: str | None = None,
        wix_rec: Any = _MISSING,
        ext_rec: Any = _MISSING,
        origin: Origin = "reconcile",
        delete_unmatched: bool = False,
    ) -> PairMapping | None:
        """Reconcile the pair one of these ids belongs to; returns its mapping afterwards (None if unmapped)."""
        guard = (kind, wix_id or "", external_id or "")
        if guard in self._in_progress:  # a review's author being synced from inside that review's sync
            return None
        self._in_progress.add(guard)
        try:
            mapping = self.store.by_wix(kind, wix_id) if wix_id else None
            if mapping is None and external_id:
                mapping = self.store.by_external(kind, external_id)
            if mapping is not None:
                if mapping.wix_id != wix_id:
                    wix_rec = _MISSING
                if mapping.external_id != external_id:
                    ext_rec = _MISSING
                wix_id, external_id = mapping.wix_id, mapping.external_id
            if wix_id and wix_rec is _MISSING:
                wix_rec = self._wix_get(kind, wix_id)
            elif wix_id and wix_rec is not None:
                self._wix_seen[kind][wix_id] = wix_rec
            if external_id and ext_rec is _MISSING:
                ext_rec = self.external.get(kind, external_id)
            wix_rec = None if wix_rec is _MISSING else wix_rec
            ext_rec = None if ext_rec is _MISSING else ext_rec
            if mapping is not None:
                return self._mapped(kind, mapping, wix_rec, ext_rec, origin)
            if wix_rec is not None:
                return self._unmapped_wix(kind, wix_rec, origin, delete_unmatched)
            if ext_rec is not None:
                return self._unmapped_external(kind, ext_rec, origin, delete_unmatched)
            self._note_echo(kind, wix_id, external_id, None, origin)  # gone on both sides: our delete's event?
            return None
        finally:
            self._in_progress.discard(guard)

    def _mapped(
        self,
        kind: Kind,
        m: PairMapping,
        wix_rec: dict[str, Any] | None,
        ext_rec: ExternalRecord | None,
        origin: Origin,
        linking: bool = False,
    ) -> PairMapping | None:
        if wix_rec is None and ext_rec is None:
            self._forget(m)
            return None
        if wix_rec is None:
            assert ext_rec is not None
            ec = external_content(kind, ext_rec, self.config)
            if content_hash(ec) != m.external_hash:
                self._conflict(
                    kind, m, "changed externally, deleted on Wix", "wix", ext_rec.model_dump(mode="json"), None
                )
            self._delete_external(kind, m)
            return None
        if ext_rec is None:
            if kind == "contacts" and is_site_member(wix_rec):
                self._skip(
                    kind, TO_WIX, m.wix_id, m.external_id, "site member: Wix contacts of members are not deleted"
                )
                self._forget(m)
                return None
            wc = wix_content(kind, wix_rec, self.config)
            if content_hash(wc) != m.wix_hash:
                self._conflict(kind, m, "changed on Wix, deleted externally", "external", wix_rec, None)
            self._delete_wix(kind, m)
            return None
        wc = wix_content(kind, wix_rec, self.config)
        ec = external_content(kind, ext_rec, self.config)
        wh, eh = content_hash(wc), content_hash(ec)
        wix_changed, ext_changed = wh != m.wix_hash, eh != m.external_hash
        if wc == ec:
            self._note_echo(kind, m.wix_id, m.external_id, wh if origin == "wix" else eh, origin)
            if wix_changed or ext_changed:
                m = self._save(m, wh, eh, wix_rec, ext_rec)
            if kind == "contacts":
                self._stamp_external_id(wix_rec, m.external_id)
            return m
        if wix_changed and not ext_changed:
            winner: Side = "wix"
        elif ext_changed and not wix_changed:
            winner = "external"
        elif not wix_changed and not ext_changed:
            return m  # in step as far as each side can represent the other (e.g. a status Wix cannot set)
        else:
            winner = self._policy_winner(wix_rec, ext_rec)
            if not linking:
                ext_dump = ext_rec.model_dump(mode="json")
                losing, winning = (ext_dump, wix_rec) if winner == "wix" else (wix_rec, ext_dump)
                reason = f"both sides changed since the last sync; policy {self.config.conflict_policy}"
                self._conflict(kind, m, reason, winner, losing, winning)
        if winner == "wix":
            pushed = self._push_update_external(kind, m, wix_rec, wc, wh)
            if kind == "contacts" and pushed is not None:
                self._stamp_external_id(wix_rec, m.external_id)  # a linked contact's first sync
            return pushed
        return self._push_update_wix(kind, m, wix_rec, ext_rec, ec, eh)

    def _policy_winner(self, wix_rec: Mapping[str, Any], ext_rec: ExternalRecord) -> Side:
        sor = self.config.system_of_record
        if self.config.conflict_policy == "system_of_record" and sor is not None:
            return sor
        wix_time = _parse_time(canonical.updated_at(wix_rec))
        ext_time = ext_rec.updated_at
        if wix_time and ext_time and wix_time != ext_time:
            return "wix" if wix_time > ext_time else "external"
        return sor or "wix"

    def _note_echo(
        self, kind: Kind, wix_id: str | None, ext_id: str | None, current_hash: str | None, origin: Origin
    ) -> None:
        """The event that brought us here was caused by our own last write (same content, or our delete)."""
        if origin not in ("wix", "external"):
            return
        record_id = wix_id if origin == "wix" else ext_id
        if not record_id:
            return
        last = self.store.last_write(origin, kind, record_id)
        if last is None or (last[0] != "delete" and last[1] != current_hash) or (last[0] == "delete" and current_hash):
            return
        direction = TO_EXT if origin == "wix" else TO_WIX
        self._diff(kind, direction, "echo", wix_id, ext_id, f"the sync's own {last[0]} at {last[2]}")

    # ------------------------------------------------------------------------------------------- unmapped

    def _unmapped_wix(
        self, kind: Kind, wix_rec: dict[str, Any], origin: Origin, delete_unmatched: bool
    ) -> PairMapping | None:
        wix_id = str(wix_rec["id"])
        wc = wix_content(kind, wix_rec, self.config)
        if delete_unmatched and kind != "contacts" and self._mapped_author(kind, wix_rec) is None:
            # Setup with the external system as the record: its author has no counterpart, so neither can it.
            return self._delete_wix(kind, PairMapping(kind, wix_id, "", None, None, None, None, None))
        key = self._external_key_fields(kind, wix_rec, wc)
        if key is None:
            return None
        existing = None if key.get("authorId", "").startswith("pending:") else self.external.find(kind, key)
        if existing is not None and self._free_external(kind, existing.id):
            return self._link(kind, wix_rec, existing, origin)
        if existing is not None:
            self._skip(kind, TO_EXT, wix_id, existing.id, f"{existing.id} already mapped to another Wix record")
            return None
        if delete_unmatched:
            if kind == "contacts" and is_site_member(wix_rec):
                self._skip(kind, TO_WIX, wix_id, None, "site member: kept although the external system is the record")
                return None
            return self._delete_wix(kind, PairMapping(kind, wix_id, "", None, None, None, None, None))
        fields = {**wc, **key}
        if self.dry_run:
            self._diff(kind, TO_EXT, "create", wix_id, None, None, fields, dry=True)
            return None
        try:
            created = self.external.create(kind, fields, idempotency_key=f"wix:{kind}:{wix_id}")
        except DuplicateRecordError as dup:
            other = self.external.get(kind, dup.existing_id)
            if other is None or self.store.by_external(kind, other.id) is not None:
                self._skip(kind, TO_EXT, wix_id, dup.existing_id, f"external natural key taken: {dup}")
                return None
            return self._link(kind, wix_rec, other, origin)
        eh = content_hash(external_content(kind, created, self.config))
        self.store.record_write("external", kind, created.id, "create", eh, wix_id)
        self._diff(kind, TO_EXT, "create", wix_id, created.id, None, fields)
        m = self._save(
            PairMapping(kind, wix_id, created.id, None, None, None, None, None), content_hash(wc), eh, wix_rec, created
        )
        if kind == "contacts":
            self._stamp_external_id(wix_rec, created.id)
        return m

    def _unmapped_external(
        self, kind: Kind, ext_rec: ExternalRecord, origin: Origin, delete_unmatched: bool
    ) -> PairMapping | None:
        ec = external_content(kind, ext_rec, self.config)
        if kind == "contacts":
            email = ec.get("email")
            if not email:
                self._skip(kind, TO_WIX, None, ext_rec.id, "no email: contacts are matched by email")
                return None
            found = self.wix.contacts.find_by_email(str(email))
            existing = found.to_wire() if found is not None else None
            if existing is not None and self._free_wix(kind, existing["id"]):
                return self._link(kind, existing, ext_rec, origin)
            if existing is not None:
                self._skip(
                    kind, TO_WIX, existing["id"], ext_rec.id, "the Wix contact with this email is mapped already"
                )
                return None
            if delete_unmatched:
                return self._delete_external(kind, PairMapping(kind, "", ext_rec.id, None, None, None, None, None))
            return self._create_wix_contact(ext_rec, ec)
        author_ext = str(ext_rec.fields.get("authorId" if kind == "reviews" else "ownerId") or "")
        if delete_unmatched and self.store.by_external("contacts", author_ext) is None:
            return self._delete_external(kind, PairMapping(kind, "", ext_rec.id, None, None, None, None, None))
        contact_id = self._wix_contact_for(author_ext)
        if contact_id is None:
            self._skip(kind, TO_WIX, None, ext_rec.id, f"author {author_ext!r} has no Wix contact")
            return None
        entity_id = self.config.to_wix_entity(str(ext_rec.fields.get("productId") or ""))
        existing = None if contact_id.startswith("pending:") else self._wix_find(kind, entity_id, contact_id, ext_rec)
        if existing is not None:
            existing_id = str(existing["id"])
            mapped = None if self._free_wix(kind, existing_id) else self.store.by_wix(kind, existing_id)
            if mapped is None and self.store.has_intent("wix", kind, ext_rec.id):
                # Our own create whose answer was lost (the job died after Wix stored it): adopt it.
                return self._link(kind, existing, ext_rec, origin)
            if mapped is None and delete_unmatched is False and origin == "setup":
                return self._link(kind, existing, ext_rec, origin)
            what = "review of" if kind == "reviews" else f"rating of {ext_rec.fields.get('attribute')!r} for"
            code = "DUPLICATE_REVIEW" if kind == "reviews" else "DUPLICATE_RATING"
            self._skip(
                kind,
                TO_WIX,
                existing_id,
                ext_rec.id,
                f"{code}: Wix contact {contact_id} already has {what} entity {entity_id} ({existing_id}); "
                "Wix allows one",
            )
            return None
        if delete_unmatched:
            return self._delete_external(kind, PairMapping(kind, "", ext_rec.id, None, None, None, None, None))
        if self.dry_run:
            self._diff(kind, TO_WIX, "create", None, ext_rec.id, None, {**ec, "entityId": entity_id}, dry=True)
            return None
        self.store.intent("wix", kind, ext_rec.id, "create")
        if kind == "reviews":
            content = {k: v for k, v in canonical.review_content(ec, self.config).items() if v is not None}
            review = {
                "namespace": self.config.reviews_namespace,
                "entityId": entity_id,
                "author": {"contactId": contact_id},
                "content": content,
            }
            self._review_queue.append((ext_rec, dict(ec), review))
            return None
        try:  # ratings have no bulk endpoint: one call each
            created = _rating_wire(
                self.wix.ratings.create(
                    namespace=self.config.ratings_namespace,
                    group=self.config.ratings_group,
                    entity_id=entity_id,
                    attribute_name=str(ext_rec.fields.get("attribute") or ""),
                    value=canonical.rating_value(ec, self.config),
                    contact_id=contact_id,
                )
            )
        except WixConflictError as exc:
            self._skip(
                kind, TO_WIX, None, ext_rec.id, f"{exc.code or 'CONFLICT'}: Wix refused the create ({exc.message})"
            )
            return None
        return self._after_wix_create(kind, created, ext_rec, ec)

    def _flush_reviews(self) -> None:
        """Create the queued reviews with Bulk Create (SPEC.md §5.2). Item failures come back per item: a
        duplicate (one review per contact per entity) is a skip with its reason, not a failed run."""
        while self._review_queue:
            chunk, self._review_queue = self._review_queue[:100], self._review_queue[100:]
            result = self.wix.reviews.bulk_create([review for _, _, review in chunk])
            for position, item in enumerate(result.results):
                meta = item.item_metadata
                index = meta.original_index if meta and meta.original_index is not None else position
                ext_rec, ec, review = chunk[index]
                entity = item.entity
                if meta is not None and meta.success and entity is not None:
                    self._after_wix_create("reviews", self._apply_status(dict(entity), ec), ext_rec, ec)
                    continue
                error = (meta.error if meta else None) or {}
                self._skip(
                    "reviews",
                    TO_WIX,
                    None,
                    ext_rec.id,
                    f"{error.get('code') or 'FAILED'}: Wix refused the review of {review['entityId']} by contact "
                    f"{review['author']['contactId']} ({error.get('description') or 'no detail'})",
                )

    def _after_wix_create(
        self, kind: Kind, created: dict[str, Any], ext_rec: ExternalRecord, ec: Mapping[str, Any]
    ) -> PairMapping:
        wix_id = str(created["id"])
        self._wix_seen[kind][wix_id] = created
        wh = content_hash(wix_content(kind, created, self.config))
        self.store.record_write("wix", kind, wix_id, "create", wh, ext_rec.id)
        self._diff(kind, TO_WIX, "create", wix_id, ext_rec.id, None, dict(ec))
        m = PairMapping(kind, wix_id, ext_rec.id, None, None, None, None, None)
        return self._complete_external(kind, m, created, ext_rec, content_hash(ec))

    def _create_wix_contact(self, ext_rec: ExternalRecord, ec: Mapping[str, Any]) -> PairMapping | None:
        info = {k: v for k, v in canonical.contact_info(ec, self.config).items() if v not in (None, {}, "")}
        if self.dry_run:
            self._diff("contacts", TO_WIX, "create", None, ext_rec.id, None, info, dry=True)
            return None
        # Written once, at creation: the external id this contact was created from.
        info["extendedFields"] = {"items": {self._external_id_key(): ext_rec.id}}
        try:
            created = self.wix.contacts.create(info).to_wire()
        except WixConflictError as exc:
            if exc.duplicate_id is None:
                raise
            # Created by an earlier attempt whose answer was lost, or by someone meanwhile: link by email.
            created = self.wix.contacts.get(exc.duplicate_id).to_wire()
            return self._link("contacts", created, ext_rec, "external")
        return self._after_wix_create("contacts", created, ext_rec, ec)

    def _link(self, kind: Kind, wix_rec: dict[str, Any], ext_rec: ExternalRecord, origin: Origin) -> PairMapping | None:
        """Map two records found by natural key; their contents are then reconciled like a conflict (without
        recording one): the system of record wins when set, else the newest."""
        self._diff(kind, "both", "link", str(wix_rec["id"]), ext_rec.id, "matched by natural key")
        m = PairMapping(kind, str(wix_rec["id"]), ext_rec.id, None, None, None, None, None)
        if self.dry_run:
            return None
        self._wix_seen[kind][m.wix_id] = wix_rec
        self.store.save(m)
        return self._mapped(kind, m, wix_rec, ext_rec, origin, linking=True)

    # ============================================================================================== writes

    def _push_update_external(
        self,
        kind: Kind,
        m: PairMapping,
        wix_rec: dict[str, Any],
        wc: dict[str, Any],
        wh: str,
        reason: str | None = None,
    ) -> PairMapping | None:
        names = set(self.config.field_map(kind).values())
        fields = {name: wc.get(name) for name in names}  # None removes a field the Wix side no longer has
        if self.dry_run:
            self._diff(kind, TO_EXT, "update", m.wix_id, m.external_id, None, fields, dry=True)
            return m
        try:
            updated = self.external.update(kind, m.external_id, fields)
        except DuplicateRecordError as dup:
            self._skip(kind, TO_EXT, m.wix_id, m.external_id, f"external natural key taken: {dup}")
            return m
        if updated is None:  # deleted meanwhile: the next event for it reconciles the deletion
            return m
        eh = content_hash(external_content(kind, updated, self.config))
        self.store.record_write("external", kind, updated.id, "update", eh, m.wix_id)
        self._diff(kind, TO_EXT, "update", m.wix_id, m.external_id, reason, fields)
        return self._save(m, wh, eh, wix_rec, updated)

    def _push_update_wix(
        self,
        kind: Kind,
        m: PairMapping,
        wix_rec: dict[str, Any],
        ext_rec: ExternalRecord,
        ec: dict[str, Any],
        eh: str,
    ) -> PairMapping | None:
        if self.dry_run:
            self._diff(kind, TO_WIX, "update", m.wix_id, m.external_id, None, ec, dry=True)
            return m
        for attempt in range(2):
            try:
                updated = self._update_wix(kind, wix_rec, ec, m.external_id)
                break
            except WixConflictError as exc:
                if not exc.is_stale_revision or attempt:
                    raise
                wix_rec = self._wix_get(kind, m.wix_id) or wix_rec  # changed under us: re-read, try once more
            except WixNotFoundError:
                return m  # deleted meanwhile: its webhook reconciles the deletion
        wh = content_hash(wix_content(kind, updated, self.config))
        self._wix_seen[kind][m.wix_id] = updated
        self.store.record_write("wix", kind, m.wix_id, "update", wh, m.external_id)
        self._diff(kind, TO_WIX, "update", m.wix_id, m.external_id, None, ec)
        return self._complete_external(kind, m, updated, ext_rec, eh)

    def _complete_external(
        self, kind: Kind, m: PairMapping, wix_rec: dict[str, Any], ext_rec: ExternalRecord, eh: str
    ) -> PairMapping | None:
        """After a push to Wix, Wix may hold something else than was sent: a value it assigns (a new review's
        moderation status) or refuses to take (a status only moderation can set). Copy that back once, so both
        sides end equal instead of differing forever."""
        wc = wix_content(kind, wix_rec, self.config)
        wh = content_hash(wc)
        if wc == external_content(kind, ext_rec, self.config):
            return self._save(m, wh, eh, wix_rec, ext_rec)
        self._save(m, wh, eh, wix_rec, ext_rec)
        return self._push_update_external(kind, m, wix_rec, wc, wh, reason="completes it with what Wix holds")

    def _update_wix(self, kind: Kind, wix_rec: dict[str, Any], ec: Mapping[str, Any], ext_id: str) -> dict[str, Any]:
        wix_id = str(wix_rec["id"])
        if kind == "contacts":
            info = canonical.contact_info(ec, self.config, wix_rec)
            key = self._external_id_key()
            items = ((wix_rec.get("info") or {}).get("extendedFields") or {}).get("items") or {}
            if not items.get(key):
                info["extendedFields"] = {"items": {key: ext_id}}  # first sync of a linked contact
            return self.wix.contacts.update(wix_id, int(wix_rec.get("revision") or 0), info).to_wire()
        if kind == "reviews":
            current = wix_rec.get("content") or {}
            content = canonical.review_content(ec, self.config)
            record = wix_rec
            if any(current.get(k) != v for k, v in content.items()):
                record = self.wix.reviews.update(wix_id, str(wix_rec.get("revision")), {"content": content}).to_wire()
            return self._apply_status(record, ec)
        value = canonical.rating_value(ec, self.config)
        return _rating_wire(self.wix.ratings.update(wix_id, str(wix_rec.get("revision")), value=value))

    def _apply_status(self, review: dict[str, Any], ec: Mapping[str, Any]) -> dict[str, Any]:
        """Moderation is its own endpoint, and only APPROVED / REJECTED can be set (SPEC.md §5.2)."""
        status = canonical.review_status(ec, self.config)
        current = (review.get("moderation") or {}).get("moderationStatus")
        if status in ("APPROVED", "REJECTED") and status != current:
            return self.wix.reviews.moderate(str(review["id"]), status).to_wire()
        return review

    def _delete_external(self, kind: Kind, m: PairMapping) -> None:
        if self.dry_run:
            self._diff(kind, TO_EXT, "delete", m.wix_id or None, m.external_id, None, None, dry=True)
            return None
        self.external.delete(kind, m.external_id)
        self.store.record_write("external", kind, m.external_id, "delete", None, m.wix_id or None)
        self._diff(kind, TO_EXT, "delete", m.wix_id or None, m.external_id)
        if m.wix_id:
            self.store.drop(kind, m.wix_id)
        return None

    def _delete_wix(self, kind: Kind, m: PairMapping) -> None:
        if self.dry_run:
            self._diff(kind, TO_WIX, "delete", m.wix_id, m.external_id or None, None, None, dry=True)
            return None
        try:
            if kind == "contacts":
                self.wix.contacts.delete(m.wix_id)
            elif kind == "reviews":
                self.wix.reviews.delete(m.wix_id)
            else:
                self.wix.ratings.delete(m.wix_id)
        except WixNotFoundError:
            pass  # already gone: the goal of the call
        self._wix_seen[kind][m.wix_id] = None
        self.store.record_write("wix", kind, m.wix_id, "delete", None, m.external_id or None)
        self._diff(kind, TO_WIX, "delete", m.wix_id, m.external_id or None)
        self.store.drop(kind, m.wix_id)
        return None

    def _stamp_external_id(self, wix_rec: dict[str, Any], external_id: str) -> None:
        """Write ``externalCrmId`` on the Wix contact the first time it is synced; never overwrite it."""
        key = self._external_id_key()
        items = ((wix_rec.get("info") or {}).get("extendedFields") or {}).get("items") or {}
        if items.get(key) or self.dry_run:
            return
        wix_id = str(wix_rec["id"])
        try:
            updated = self.wix.contacts.update(
                wix_id, int(wix_rec.get("revision") or 0), {"extendedFields": {"items": {key: external_id}}}
            ).to_wire()
        except WixConflictError as exc:
            if not exc.is_stale_revision:
                raise
            current = self._wix_get("contacts", wix_id)
            if current is None:
                return
            return self._stamp_external_id(current, external_id)
        except WixNotFoundError:
            return
        self._wix_seen["contacts"][wix_id] = updated
        wh = content_hash(wix_content("contacts", updated, self.config))
        self.store.record_write("wix", "contacts", wix_id, "stamp", wh, external_id)
        self.report.add("contacts", TO_WIX, "stamp")

    # ============================================================================================= helpers

    def _external_id_key(self) -> str:
        if self._xf_key is None:
            name = self.config.external_id_field
            if self.dry_run:
                fields = [f for f in self.wix.extended_fields.list() if f.display_name == name]
                self._xf_key = fields[0].key if fields and fields[0].key else f"custom.{name.lower()}"
            else:
                self._xf_key = str(self.wix.extended_fields.find_or_create(name, "TEXT").key)
        return self._xf_key

    def external_id_of(self, contact: Mapping[str, Any]) -> str | None:
        items = ((contact.get("info") or {}).get("extendedFields") or {}).get("items") or {}
        value = items.get(self._external_id_key())
        return str(value) if value else None

    def _external_key_fields(
        self, kind: Kind, wix_rec: Mapping[str, Any], wc: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        wix_id = str(wix_rec["id"])
        if kind == "contacts":
            if not wc.get("email"):
                self._skip(kind, TO_EXT, wix_id, None, "no email: contacts are matched by email")
                return None
            return {"email": wc["email"]}
        contact_id = str(
            ((wix_rec.get("author") if kind == "reviews" else wix_rec.get("owner")) or {}).get("contactId") or ""
        )
        author = self._external_contact_for(contact_id) if contact_id else None
        if author is None:
            self._skip(kind, TO_EXT, wix_id, None, f"author contact {contact_id or '(none)'} cannot be synced")
            return None
        key = {"productId": self.config.to_external_entity(str(wix_rec.get("entityId") or ""))}
        if kind == "reviews":
            return {**key, "authorId": author}
        return {**key, "attribute": str(wix_rec.get("attributeName") or ""), "ownerId": author}

    def _free_external(self, kind: Kind, external_id: str) -> bool:
        """True when this external record may be linked: unmapped, or mapped to a Wix record that is gone (its
        deletion event not handled yet). Without the second case, a record deleted and re-created at the same
        natural key before the deletion is synced would stay unlinked for good."""
        m = self.store.by_external(kind, external_id)
        if m is None:
            return True
        if self._wix_get(kind, m.wix_id) is None:
            self._forget(m)
            return True
        return False

    def _free_wix(self, kind: Kind, wix_id: str) -> bool:
        """The same, seen from Wix: unmapped, or mapped to an external record that is gone."""
        m = self.store.by_wix(kind, wix_id)
        if m is None:
            return True
        if self.external.get(kind, m.external_id) is None:
            self._forget(m)
            return True
        return False

    def _mapped_author(self, kind: Kind, wix_rec: Mapping[str, Any]) -> str | None:
        holder = wix_rec.get("author") if kind == "reviews" else wix_rec.get("owner")
        contact_id = str((holder or {}).get("contactId") or "")
        m = self.store.by_wix("contacts", contact_id) if contact_id else None
        return m.external_id if m else None

    def _external_contact_for(self, wix_contact_id: str) -> str | None:
        m = self.store.by_wix("contacts", wix_contact_id)
        if m is None:
            m = self.sync_pair("contacts", wix_id=wix_contact_id, origin="reconcile")
        if m is None and self.dry_run:
            return f"pending:{wix_contact_id}"
        return m.external_id if m else None

    def _wix_contact_for(self, external_contact_id: str) -> str | None:
        if not external_contact_id:
            return None
        m = self.store.by_external("contacts", external_contact_id)
        if m is None:
            m = self.sync_pair("contacts", external_id=external_contact_id, origin="reconcile")
        if m is None and self.dry_run:
            return f"pending:{external_contact_id}"
        return m.wix_id if m else None

    def _wix_find(self, kind: Kind, entity_id: str, contact_id: str, ext_rec: ExternalRecord) -> dict[str, Any] | None:
        """The Wix review (or rating) this contact already has for this entity (and attribute)."""
        if kind == "reviews":
            flt = (
                Filter.eq("namespace", self.config.reviews_namespace)
                & Filter.eq("entityId", entity_id)
                & Filter.eq("author.contactId", contact_id)
            )
            pages = self.wix.reviews.query_pages(Query(filter=flt), page_size=10)
        else:
            flt = (
                Filter.eq("namespace", self.config.ratings_namespace)
                & Filter.eq("group", self.config.ratings_group)
                & Filter.eq("entityId", entity_id)
                & Filter.eq("attributeName", str(ext_rec.fields.get("attribute") or ""))
                & Filter.eq("owner.contactId", contact_id)
            )
            pages = self.wix.ratings.query_pages(Query(filter=flt), page_size=10)
        for page in pages:
            for item in page.items:
                return dict(item)
        return None

    def _save(
        self, m: PairMapping, wh: str, eh: str, wix_rec: Mapping[str, Any], ext_rec: ExternalRecord
    ) -> PairMapping:
        match_key = None
        if m.kind == "contacts":
            match_key = wix_content("contacts", wix_rec, self.config).get("email")
        new = PairMapping(
            m.kind,
            m.wix_id,
            m.external_id,
            match_key,
            wh,
            eh,
            canonical.updated_at(wix_rec),
            canonical.updated_at(ext_rec),
        )
        if not self.dry_run:
            self.store.save(new)
        return new

    def _forget(self, m: PairMapping) -> None:
        if not self.dry_run:
            self.store.drop(m.kind, m.wix_id)

    def _conflict(self, kind: Kind, m: PairMapping, reason: str, winner: str, losing: Any, winning: Any) -> None:
        """Both sides changed since the last sync: keep the losing version whole before it is overwritten."""
        self.report.conflicts += 1
        self.log.info(f"conflict on {kind} wix {m.wix_id} / external {m.external_id}: {reason}")
        if not self.dry_run:
            self.store.conflict(
                kind,
                m.wix_id,
                m.external_id,
                policy=self.config.conflict_policy,
                winner=winner,
                reason=reason,
                losing=losing,
                winning=winning,
            )

    def _skip(self, kind: Kind, direction: str, wix_id: str | None, ext_id: str | None, reason: str) -> None:
        # f-string, not %-args: the logger may be Dagster's, which takes a finished message.
        self.log.warning(f"skipped {kind} {direction} (wix {wix_id}, external {ext_id}): {reason}")
        self.report.skipped.append(
            {"kind": kind, "direction": direction, "wix_id": wix_id, "external_id": ext_id, "reason": reason}
        )
        self._diff(kind, direction, "skip", wix_id, ext_id, reason, count=False)

    def _diff(
        self,
        kind: Kind,
        direction: str,
        op: str,
        wix_id: str | None,
        ext_id: str | None,
        reason: str | None = None,
        payload: Any = None,
        *,
        dry: bool = False,
        count: bool = True,
    ) -> None:
        if count:
            self.report.add(kind, direction, op)
        self.store.diff(
            kind,
            direction,
            op,
            wix_id=wix_id,
            external_id=ext_id,
            reason=reason,
            payload=payload,
            dry_run=self.dry_run or dry,
        )
