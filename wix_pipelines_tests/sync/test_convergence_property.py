"""Property: whatever people do on both sides, and however the events arrive, the sync converges.

A hypothesis ``RuleBasedStateMachine`` interleaves random creates, updates and deletes of contacts, reviews
and ratings on Wix (through its API) and in the external system, and delivers the resulting events late, out
of order and more than once: Wix webhooks go through the real receiver (a duplicate is a replay the inbox
refuses) and inbox ranges are sometimes processed twice (a retried job); external changes are handed over
shuffled and duplicated. After every step no record is created twice and no id is mapped twice; at the end,
once every event has been delivered, the sync must go quiet within a few rounds (no loop) with both sides
equal under the mappings. The sync here uses an API key, so its own webhooks carry no app identity: echoes
are recognised by the ledger alone, the harder case.
"""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from wix_pipelines.emulator.external import ExternalApiError
from wix_pipelines.external.contract import Change
from wix_pipelines.external.http import _record
from wix_pipelines.sync import SyncConfig, ensure_sync_tables
from wix_pipelines.sync.canonical import external_content, wix_content
from wix_pipelines.warehouse import ensure_schema
from wix_pipelines.webhooks import WebhookInbox, WebhookReceiver
from wix_pipelines.wix.errors import WixApiError

from .conftest import Sides

NAMES = st.sampled_from(["Ada", "Bo", "Cy", "Di"])
PRODUCTS = st.sampled_from(["p1", "p2"])
PICK = st.integers(min_value=0, max_value=10_000)
CONFIG = SyncConfig()
MAX_QUIET_ROUNDS = 4


class SyncMachine(RuleBasedStateMachine):
    sides: Sides
    workdir: Path
    counter = itertools.count()

    def __init__(self) -> None:
        super().__init__()
        s = self.sides
        s.wix.state.reset()
        s.external.state.reset()
        s.con.close()
        s.con = duckdb.connect(":memory:")
        ensure_schema(s.con)
        ensure_sync_tables(s.con)
        self.inbox = WebhookInbox(self.workdir / f"inbox-{next(self.counter)}.sqlite3")
        self.receiver = WebhookReceiver(self.inbox, s.wix.public_key_pem, app_id=s.wix.config.app_id)
        self.emitted = 0  # Wix events already moved to `pending_wix`
        self.pending_wix: list[str] = []
        self.inbox_seq = 0
        self.ext_cursor = "0"
        self.pending_ext: list[Change] = []
        self.emails = itertools.count()

    def teardown(self) -> None:
        self.inbox.close()

    # ------------------------------------------------------------------------------------------ people

    def _live_wix(self, collection: str) -> list[dict[str, Any]]:
        # Insertion order, not id order: Wix ids are random uuids, and a replayed example must pick the same.
        with self.sides.wix.state.lock:
            return list(getattr(self.sides.wix.state, collection).values())

    def _live_ext(self, kind: str) -> list[dict[str, Any]]:
        return sorted(self.sides.external.state.live(kind), key=lambda r: r["id"])

    @rule(first=NAMES)
    def wix_create_contact(self, first: str) -> None:
        email = f"w{next(self.emails)}@example.org"
        self.sides.client.contacts.create({"name": {"first": first}, "emails": {"items": [{"email": email}]}})

    @rule(pick=PICK, first=NAMES)
    def wix_update_contact(self, pick: int, first: str) -> None:
        live = self._live_wix("contacts")
        if live:
            c = live[pick % len(live)]
            self.sides.client.contacts.update(c["id"], c["revision"], {"name": {"first": first, "last": "W"}})

    @rule(pick=PICK)
    def wix_delete_contact(self, pick: int) -> None:
        live = self._live_wix("contacts")
        if live:
            self.sides.client.contacts.delete(live[pick % len(live)]["id"])

    @rule(first=NAMES)
    def ext_create_contact(self, first: str) -> None:
        email = f"x{next(self.emails)}@example.org"
        self.sides.external.state.create("contacts", {"email": email, "firstName": first}, actor="crm-user")

    @rule(pick=PICK, first=NAMES)
    def ext_update_contact(self, pick: int, first: str) -> None:
        live = self._live_ext("contacts")
        if live:
            fields = {"firstName": first, "lastName": "X"}
            self.sides.external.state.update("contacts", live[pick % len(live)]["id"], fields, actor="crm-user")

    @rule(pick=PICK)
    def ext_delete_contact(self, pick: int) -> None:
        live = self._live_ext("contacts")
        if live:
            self.sides.external.state.delete("contacts", live[pick % len(live)]["id"], actor="crm-user")

    @rule(pick=PICK, product=PRODUCTS, rating=st.integers(1, 5))
    def wix_create_review(self, pick: int, product: str, rating: int) -> None:
        live = self._live_wix("contacts")
        if not live:
            return
        review = {"namespace": "stores", "entityId": product, "author": {"contactId": live[pick % len(live)]["id"]}}
        with contextlib.suppress(WixApiError):  # this person already reviewed it: Wix says no, as to anyone
            self.sides.client.reviews.create({**review, "content": {"rating": rating}})

    @rule(pick=PICK, rating=st.integers(1, 5))
    def wix_update_review(self, pick: int, rating: int) -> None:
        live = self._live_wix("reviews")
        if live:
            r = live[pick % len(live)]
            self.sides.client.reviews.update(r["id"], r["revision"], {"content": {"rating": rating}})

    @rule(pick=PICK)
    def wix_delete_review(self, pick: int) -> None:
        live = self._live_wix("reviews")
        if live:
            self.sides.client.reviews.delete(live[pick % len(live)]["id"])

    @rule(pick=PICK, product=PRODUCTS, rating=st.integers(1, 5))
    def ext_create_review(self, pick: int, product: str, rating: int) -> None:
        live = self._live_ext("contacts")
        if not live:
            return
        fields = {"productId": product, "authorId": live[pick % len(live)]["id"], "rating": rating}
        with contextlib.suppress(ExternalApiError):  # the external system's own one-per-author rule
            self.sides.external.state.create("reviews", fields, actor="crm-user")

    @rule(pick=PICK, rating=st.integers(1, 5))
    def ext_update_review(self, pick: int, rating: int) -> None:
        live = self._live_ext("reviews")
        if live:
            self.sides.external.state.update(
                "reviews", live[pick % len(live)]["id"], {"rating": rating}, actor="crm-user"
            )

    @rule(pick=PICK)
    def ext_delete_review(self, pick: int) -> None:
        live = self._live_ext("reviews")
        if live:
            self.sides.external.state.delete("reviews", live[pick % len(live)]["id"], actor="crm-user")

    @rule(pick=PICK, product=PRODUCTS, value=st.integers(1, 5))
    def wix_create_rating(self, pick: int, product: str, value: int) -> None:
        live = self._live_wix("contacts")
        if not live:
            return
        with contextlib.suppress(WixApiError):  # one rating per attribute per owner
            self.sides.client.ratings.create(
                namespace="reviews",
                group="stores",
                entity_id=product,
                attribute_name="overall",
                value=value,
                contact_id=live[pick % len(live)]["id"],
            )

    @rule(pick=PICK, value=st.integers(1, 5))
    def wix_update_rating(self, pick: int, value: int) -> None:
        live = self._live_wix("ratings")
        if live:
            r = live[pick % len(live)]
            self.sides.client.ratings.update(r["id"], r["revision"], value=value)

    @rule(pick=PICK)
    def wix_delete_rating(self, pick: int) -> None:
        live = self._live_wix("ratings")
        if live:
            self.sides.client.ratings.delete(live[pick % len(live)]["id"])

    @rule(pick=PICK, product=PRODUCTS, value=st.integers(1, 5))
    def ext_create_rating(self, pick: int, product: str, value: int) -> None:
        live = self._live_ext("contacts")
        if not live:
            return
        fields = {"productId": product, "attribute": "overall", "ownerId": live[pick % len(live)]["id"], "value": value}
        with contextlib.suppress(ExternalApiError):
            self.sides.external.state.create("ratings", fields, actor="crm-user")

    @rule(pick=PICK, value=st.integers(1, 5))
    def ext_update_rating(self, pick: int, value: int) -> None:
        live = self._live_ext("ratings")
        if live:
            self.sides.external.state.update(
                "ratings", live[pick % len(live)]["id"], {"value": value}, actor="crm-user"
            )

    @rule(pick=PICK)
    def ext_delete_rating(self, pick: int) -> None:
        live = self._live_ext("ratings")
        if live:
            self.sides.external.state.delete("ratings", live[pick % len(live)]["id"], actor="crm-user")

    # ------------------------------------------------------------------------------------------ delivery

    def _collect(self) -> None:
        with self.sides.wix.state.lock:
            events = self.sides.wix.state.events[self.emitted :]
            self.emitted += len(events)
        self.pending_wix.extend(token for _, token in events)
        batch = self.sides.adapter.list_changes(self.ext_cursor, limit=1000)
        self.pending_ext.extend(batch.changes)
        self.ext_cursor = batch.next_cursor or self.ext_cursor

    def _deliver_wix(self, tokens: list[str], rerun_from: int | None = None) -> None:
        for token in tokens:
            self.receiver.accept(token)  # duplicates come back 409 (replayed): the inbox keeps one copy
        events = self.inbox.read(self.inbox_seq)
        if rerun_from is not None:  # a retried job: an inbox range handled a second time
            events = self.inbox.read(min(rerun_from, self.inbox_seq)) if self.inbox_seq else events
        if events:
            self.inbox_seq = max(self.inbox_seq, events[-1].seq)
        engine = self.sides.engine(CONFIG)
        engine.handle_wix_events(events)
        engine.finish()

    def _deliver_ext(self, changes: list[Change]) -> None:
        engine = self.sides.engine(CONFIG)
        engine.handle_external_changes(changes)
        engine.finish()

    @rule(data=st.data())
    def deliver_some_wix_events(self, data: st.DataObject) -> None:
        self._collect()
        if not self.pending_wix:
            return
        chosen = data.draw(st.lists(st.integers(0, len(self.pending_wix) - 1), max_size=6), label="wix events")
        order = data.draw(st.permutations(chosen), label="wix order")
        tokens = [self.pending_wix[i] for i in order]
        for i in sorted(set(chosen), reverse=True):
            del self.pending_wix[i]  # delivered (the rest stay delayed)
        rerun = data.draw(st.none() | st.integers(0, 30), label="rerun inbox from")
        self._deliver_wix(tokens, rerun)

    @rule(data=st.data())
    def deliver_some_external_changes(self, data: st.DataObject) -> None:
        self._collect()
        if not self.pending_ext:
            return
        chosen = data.draw(st.lists(st.integers(0, len(self.pending_ext) - 1), max_size=6), label="ext changes")
        order = data.draw(st.permutations(chosen), label="ext order")
        changes = [self.pending_ext[i] for i in order]
        for i in sorted(set(chosen), reverse=True):
            del self.pending_ext[i]
        self._deliver_ext(changes)

    # ------------------------------------------------------------------------------------------ properties

    @invariant()
    def nothing_is_duplicated(self) -> None:
        con = self.sides.con
        twice = con.execute(
            "SELECT kind, wix_id FROM sync_map GROUP BY ALL HAVING count(*) > 1 UNION ALL "
            "SELECT kind, external_id FROM sync_map GROUP BY ALL HAVING count(*) > 1"
        ).fetchall()
        assert twice == [], f"ids mapped twice: {twice}"
        created_twice = con.execute(
            "SELECT target, kind, source_id, count(*) FROM sync_ledger WHERE op = 'create' AND status = 'done'"
            " GROUP BY ALL HAVING count(*) > 1"
        ).fetchall()
        assert created_twice == [], f"a source record was created twice: {created_twice}"

    def converge(self) -> None:
        """Deliver everything, in order, until a round makes no write; then compare both sides."""
        ext_state = self.sides.external.state
        for _ in range(MAX_QUIET_ROUNDS):
            before = (self.sides.wix.state.stats.writes, ext_state.write_count(actor="wix-sync"))
            self._collect()
            tokens, self.pending_wix = self.pending_wix, []
            changes, self.pending_ext = self.pending_ext, []
            self._deliver_wix(tokens)
            self._deliver_ext(changes)
            self._collect()
            quiet = before == (self.sides.wix.state.stats.writes, ext_state.write_count(actor="wix-sync"))
            if quiet and not self.pending_wix and not self.pending_ext:
                break
        else:
            raise AssertionError(f"still writing after {MAX_QUIET_ROUNDS} rounds with nothing new: a loop")
        self.nothing_is_duplicated()
        self.assert_equal_under_mappings()

    def assert_equal_under_mappings(self) -> None:
        con = self.sides.con
        for kind, collection in (("contacts", "contacts"), ("reviews", "reviews"), ("ratings", "ratings")):
            wix = {r["id"]: r for r in self._live_wix(collection)}
            ext = {r["id"]: r for r in self._live_ext(kind)}
            pairs = dict(con.execute("SELECT wix_id, external_id FROM sync_map WHERE kind = ?", [kind]).fetchall())
            for wix_id, ext_id in pairs.items():
                assert wix_id in wix and ext_id in ext, f"{kind} mapping {wix_id}->{ext_id} points at a deleted record"
                left = wix_content(kind, wix[wix_id], CONFIG)
                right = external_content(kind, _record(kind, ext[ext_id]), CONFIG)  # type: ignore[arg-type]
                assert left == right, f"{kind} {wix_id} / {ext_id} differ: {left} != {right}"
            unmapped_wix = set(wix) - set(pairs)
            unmapped_ext = set(ext) - set(pairs.values())
            if kind == "contacts":
                assert not unmapped_wix and not unmapped_ext, f"unsynced contacts: {unmapped_wix} {unmapped_ext}"
            else:
                # A review whose author no longer exists on its own side cannot be matched: Wix needs a contact.
                live_wix_contacts = set(self._live_wix_ids("contacts"))
                live_ext_contacts = {r["id"] for r in self._live_ext("contacts")}
                holder, ext_key = ("author", "authorId") if kind == "reviews" else ("owner", "ownerId")
                orphans_ok = all(wix[i][holder]["contactId"] not in live_wix_contacts for i in unmapped_wix)
                assert orphans_ok, f"unsynced Wix {kind} with a live author: {self._history(unmapped_wix)}"
                assert all(ext[i]["fields"][ext_key] not in live_ext_contacts for i in unmapped_ext), (
                    f"unsynced external {kind} with a live author: {unmapped_ext}"
                )

    def _history(self, wix_ids: set[str]) -> list[tuple[object, ...]]:
        """What the sync recorded about these records (a failing example says why it did not link them)."""
        return self.sides.con.execute(
            "SELECT wix_id, op, direction, external_id, reason FROM sync_diffs WHERE list_contains(?, wix_id)",
            [sorted(wix_ids)],
        ).fetchall()

    def _live_wix_ids(self, collection: str) -> list[str]:
        return [r["id"] for r in self._live_wix(collection)]


def test_random_interleavings_with_late_duplicated_reordered_events_converge(
    sides_factory: Callable[..., Sides],
) -> None:
    sides = sides_factory()

    class Machine(SyncMachine):
        pass

    Machine.sides = sides
    with tempfile.TemporaryDirectory() as workdir:
        Machine.workdir = Path(workdir)

        # Final check at the end of every example: hypothesis calls teardown() after the last step.
        def teardown(self: SyncMachine) -> None:
            try:
                self.converge()
            finally:
                self.inbox.close()

        Machine.teardown = teardown  # type: ignore[method-assign]
        run_state_machine_as_test(
            Machine,
            settings=settings(
                max_examples=15,
                phases=[Phase.explicit, Phase.reuse, Phase.generate],
                stateful_step_count=20,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
