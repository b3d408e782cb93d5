"""Ratings v1 (SPEC.md §6, §6.1): create, get, update, delete, query.

The REST prefix is a project conjecture shared with the client through `wix_pipelines.wix.paths`. Requests may
name the owner `ratingOwner` (the seed's shape) or `owner` (the Velo shape) and may or may not wrap the rating
in `{"rating": ...}`; responses always use `owner`, as the Velo object does.
"""

from __future__ import annotations

import copy
from typing import Any

from wix_pipelines.emulator.config import (
    DUPLICATE_RATING_CODE,
    RATING_ENTITY_FQDN,
    RATING_EVENT_TYPE_PREFIX,
    REVISION_MISMATCH_CODE,
)
from wix_pipelines.emulator.context import Ctx
from wix_pipelines.emulator.errors import ApiError, not_found, validation_error
from wix_pipelines.emulator.paging import cursor_page
from wix_pipelines.emulator.query import RATINGS_SPEC
from wix_pipelines.emulator.state import EmulatorState, new_id, rating_key, rating_owner_key
from wix_pipelines.emulator.store import Record
from wix_pipelines.emulator.timeutil import now_iso
from wix_pipelines.wix.paths import RATINGS, RATINGS_QUERY

DEFAULT_NAMESPACE = "reviews"
OWNER_FIELDS = ("contactId", "memberId", "anonymousVisitorId")


def _unwrap(body: dict[str, Any]) -> dict[str, Any]:
    rating = body.get("rating")
    return rating if isinstance(rating, dict) else body


def _value(raw: Any) -> int | float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 100:
        raise validation_error("rating.value", f"must be a number from 0 to 100, got {raw!r}", "RANGE")
    return raw


def get_rating(state: EmulatorState, rating_id: str) -> Record:
    record = state.ratings.get(rating_id)
    if record is None:
        raise not_found("RATING_NOT_FOUND", "rating", rating_id)
    return record


def create_rating(state: EmulatorState, body: dict[str, Any], identity: dict[str, Any]) -> Record:
    raw = _unwrap(body)
    for field in ("group", "entityId"):
        if not raw.get(field):
            raise validation_error(f"rating.{field}", "must not be empty")
    owner_raw = raw.get("ratingOwner") or raw.get("owner") or {}
    owner = {k: str(owner_raw[k]) for k in OWNER_FIELDS if owner_raw.get(k)}
    if not owner:
        raise validation_error("rating.ratingOwner", "must name a contactId, memberId or anonymousVisitorId")
    now = now_iso()
    record: Record = {
        "id": new_id(),
        "revision": "1",
        "namespace": str(raw.get("namespace") or DEFAULT_NAMESPACE),
        "group": str(raw["group"]),
        "entityId": str(raw["entityId"]),
        "attributeName": str(raw.get("attributeName") or raw.get("attributeId") or ""),
        "value": _value(raw.get("value")),
        "owner": owner,
        "createdDate": now,
        "updatedDate": now,
        "relatedEntityIds": [str(x) for x in raw.get("relatedEntityIds") or []],
    }
    existing = state.rating_keys.get(rating_key(record))
    if existing is not None:
        raise ApiError(
            409,
            DUPLICATE_RATING_CODE,
            f"{rating_owner_key(owner)} already rated {record['attributeName']!r} of "
            f"{record['namespace']}/{record['group']}/{record['entityId']}",
            {"existingRatingId": existing},
            message="Duplicate rating",
        )
    state.put("ratings", record)
    state.stats.count_write()
    state.emit(
        RATING_EVENT_TYPE_PREFIX + "created",
        RATING_ENTITY_FQDN,
        "created",
        record["id"],
        identity,
        created=record,
    )
    return record


def update_rating(state: EmulatorState, rating_id: str, body: dict[str, Any], identity: dict[str, Any]) -> Record:
    raw = _unwrap(body)
    old = get_rating(state, rating_id)
    revision = raw.get("revision")
    if revision is None or revision == "":
        raise validation_error("rating.revision", "must be given: send the current revision")
    if str(revision) != old["revision"]:
        raise ApiError(
            409,
            REVISION_MISMATCH_CODE,
            f"rating {rating_id} is at revision {old['revision']}, the request sent {revision}",
            {"id": rating_id, "currentRevision": old["revision"]},
        )
    record = copy.deepcopy(old)
    if "value" in raw:
        record["value"] = _value(raw["value"])
    if "relatedEntityIds" in raw:
        record["relatedEntityIds"] = [str(x) for x in raw.get("relatedEntityIds") or []]
    record["revision"] = str(int(old["revision"]) + 1)
    record["updatedDate"] = now_iso()
    state.put("ratings", record)
    state.stats.count_write()
    state.emit(
        RATING_EVENT_TYPE_PREFIX + "updated",
        RATING_ENTITY_FQDN,
        "updated",
        rating_id,
        identity,
        updated=record,
    )
    return record


def delete_rating(state: EmulatorState, rating_id: str, identity: dict[str, Any]) -> Record:
    record = get_rating(state, rating_id)
    state.delete("ratings", rating_id)
    state.stats.count_write()
    state.emit(
        RATING_EVENT_TYPE_PREFIX + "deleted",
        RATING_ENTITY_FQDN,
        "deleted",
        rating_id,
        identity,
        deleted=record,
    )
    return record


def h_create(ctx: Ctx) -> Any:
    return {"rating": create_rating(ctx.state, ctx.body, ctx.identity)}


def h_get(ctx: Ctx) -> Any:
    rating_id = get_rating(ctx.state, ctx.path_params["ratingId"])["id"]
    return b'{"rating":' + ctx.state.ratings.json(rating_id) + b"}"


def h_update(ctx: Ctx) -> Any:
    return {"rating": update_rating(ctx.state, ctx.path_params["ratingId"], ctx.body, ctx.identity)}


def h_delete(ctx: Ctx) -> Any:
    delete_rating(ctx.state, ctx.path_params["ratingId"], ctx.identity)
    return {}


def h_query(ctx: Ctx) -> Any:
    return cursor_page(ctx.state.ratings, RATINGS_SPEC, ctx.obj("query"), "ratings", "metadata")


ROUTES = [
    ("POST", RATINGS, h_create),
    ("POST", RATINGS_QUERY, h_query),
    ("GET", RATINGS + "/{ratingId}", h_get),
    ("PATCH", RATINGS + "/{ratingId}", h_update),
    ("DELETE", RATINGS + "/{ratingId}", h_delete),
]
