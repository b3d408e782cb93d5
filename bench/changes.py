"""The changes before the incremental stage: 1 % new records in every stream and 1 % updated contacts.

New records are copies of loaded records with fresh ids, created after the newest record of their stream
(spread over the following day, as if a day of activity had passed). They go in through the emulator's admin
insert, which neither fires webhooks nor counts as an API request.

Updated contacts are read back from the emulator (admin GET, the exact stored record), changed (job title),
given the next revision and `updatedDate = now`, and replaced through the same admin route: to the API they
look like contacts edited in the dashboard. Only contacts are updated: they are the one stream whose API can
filter on `updatedDate` (SPEC.md §3.6), so an incremental pull catches their updates; changes to reviews,
ratings and review requests are caught by the reconciliation pass, which this bench does not time.
"""

from __future__ import annotations

import copy
import math
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
from emulator_process import EmulatorProcess

SPREAD = timedelta(days=1)
TEMPLATES = 500


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _new_record(stream: str, template: dict[str, Any], i: int, created: str) -> dict[str, Any]:
    record = copy.deepcopy(template)
    record["id"] = str(uuid.uuid4())
    record["createdDate"] = record["updatedDate"] = created
    record.pop("revision", None)
    if stream == "contacts":
        info = record.setdefault("info", {})
        email = f"bench.new.{i}@example.net"
        for key in ("emails", "phones", "addresses"):
            for item in (info.get(key) or {}).get("items") or []:
                item.pop("id", None)  # the emulator gives every list item a fresh id
        items = (info.get("emails") or {}).get("items") or []
        if items:
            items[0]["email"] = email
        else:
            info["emails"] = {"items": [{"tag": "MAIN", "email": email, "primary": True}]}
        record.pop("primaryInfo", None)
        record.pop("primaryEmail", None)
        record["lastActivity"] = {"activityDate": created, "activityType": "CONTACT_CREATED"}
    elif stream in ("reviews", "ratings"):
        # A new product: keeps (product, author) and (product, attribute, owner) unique, as the API would.
        record["entityId"] = str(uuid.uuid4())
        if stream == "reviews":
            record["reviewDate"] = created
    elif stream == "review_requests":
        record["order"] = {"id": str(uuid.uuid4())}
    return record


def apply_changes(
    emulator: EmulatorProcess, warehouse: Path, streams: list[str], share: float = 0.01
) -> dict[str, Any]:
    """Insert `share` new records per stream and update `share` of the contacts; return what was done."""
    plan: dict[str, Any] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for stream in streams:
            live, newest = con.execute(
                f"SELECT count(*), max(created_date) FROM main.{stream} WHERE deleted_at IS NULL"
            ).fetchall()[0]
            templates = [
                orjson.loads(row[0])
                for row in con.execute(
                    f"SELECT CAST(record AS VARCHAR) FROM main.{stream} ORDER BY hash(id) LIMIT {TEMPLATES}"
                ).fetchall()
            ]
            plan[stream] = {"live": int(live), "newest": newest, "templates": templates}
        n_updates = math.ceil(plan["contacts"]["live"] * share) if "contacts" in plan else 0
        update_ids = (
            [
                row[0]
                for row in con.execute(
                    "SELECT id FROM main.contacts WHERE deleted_at IS NULL ORDER BY hash(id) + 1 LIMIT ?", [n_updates]
                ).fetchall()
            ]
            if n_updates
            else []
        )

    done: dict[str, Any] = {"share": share, "new": {}, "updated": {}}
    for stream in streams:
        n_new = math.ceil(plan[stream]["live"] * share)
        newest: datetime = plan[stream]["newest"]
        step = SPREAD / n_new
        templates = plan[stream]["templates"]
        records = [
            _new_record(stream, templates[i % len(templates)], i, _iso(newest + step * (i + 1))) for i in range(n_new)
        ]
        emulator.insert_records(stream, records)
        done["new"][stream] = {
            "count": n_new,
            "created_from": records[0]["createdDate"],
            "created_to": records[-1]["createdDate"],
        }

    if update_ids:
        now = _iso(datetime.now(UTC))
        changed = []
        for i, contact_id in enumerate(update_ids):
            record = emulator.get_record("contacts", contact_id)
            record.setdefault("info", {})["jobTitle"] = f"Bench update {i}"
            record["revision"] = int(record.get("revision", 1)) + 1
            record["updatedDate"] = now
            changed.append(record)
        emulator.insert_records("contacts", changed)
        done["updated"]["contacts"] = {"count": len(changed), "updated_date": now}
    return done
