"""Reviews v1 (SPEC.md §5): create, get, update, delete, query, count, moderate, reply, bulk create."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from wix_pipelines.emulator.config import DUPLICATE_REVIEW_CODE, REVISION_MISMATCH_CODE
from wix_pipelines.emulator.context import Ctx
from wix_pipelines.emulator.errors import ApiError, not_found, validation_error
from wix_pipelines.emulator.paging import cursor_page
from wix_pipelines.emulator.query import DEFAULT_SORT, REVIEWS_SPEC, compile_filter
from wix_pipelines.emulator.state import EmulatorState, new_id, review_key
from wix_pipelines.emulator.store import Record
from wix_pipelines.emulator.timeutil import normalize_iso, now_iso

BASE = "/reviews/v1/reviews"
BULK_CREATE = "/reviews/v1/bulk/reviews/create"
FQDN = "wix.reviews.v1.review"
EVENT = "wix.reviews.v1.review_"
MAX_MEDIA = 10
MODERATION_TARGETS = ("APPROVED", "REJECTED", "IN_MODERATION")


def is_public(record: Record) -> bool:
    return (record.get("moderation") or {}).get("moderationStatus") == "APPROVED"


def relevance(record: Record) -> float:
    """A stand-in for Wix's relevance score: helpful votes, then content richness."""
    content = record.get("content") or {}
    return round(
        record.get("helpfulness", 0) * 1.0
        + len(content.get("body") or "") / 500
        + len(content.get("media") or []) * 0.5,
        3,
    )


def _media(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise validation_error("review.content.media", "must be a list", "INVALID_FORMAT")
    if len(raw) > MAX_MEDIA:
        raise validation_error("review.content.media", f"must have at most {MAX_MEDIA} items", "MAX_SIZE")
    items: list[dict[str, Any]] = []
    for item in raw:
        if isinstance(item, str):  # the SDK turns a URL into {"image": {"url": ...}}; accept the bare URL too
            item = {"image": {"url": item}}
        if not isinstance(item, dict) or not ({"image", "video"} & set(item)):
            raise validation_error("review.content.media", "items must be {image: …} or {video: …}", "INVALID_FORMAT")
        items.append(copy.deepcopy(item))
    return items


def _content(raw: Any, field: str = "review.content") -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise validation_error(field, "must not be empty")
    rating = raw.get("rating")
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise validation_error(f"{field}.rating", f"must be an integer 1 to 5, got {rating!r}", "RANGE")
    content: dict[str, Any] = {"rating": rating}
    for key in ("title", "body"):
        if raw.get(key) is not None:
            if len(str(raw[key])) > 3000:
                raise validation_error(f"{field}.{key}", "must be at most 3000 characters", "MAX_LENGTH")
            content[key] = str(raw[key])
    content["media"] = _media(raw.get("media"))
    return content


def get_review(state: EmulatorState, review_id: str) -> Record:
    record = state.reviews.get(review_id)
    if record is None:
        raise not_found("REVIEW_NOT_FOUND", "review", review_id)
    return record


def create_review(state: EmulatorState, raw: Any, identity: dict[str, Any]) -> Record:
    if not isinstance(raw, dict):
        raise validation_error("review", "must not be empty")
    for field in ("namespace", "entityId"):
        if not raw.get(field):
            raise validation_error(f"review.{field}", "must not be empty")
    if len(str(raw["entityId"])) > 36:
        raise validation_error("review.entityId", "must be at most 36 characters", "MAX_LENGTH")
    author = raw.get("author") or {}
    if not author.get("contactId"):
        raise validation_error("review.author.contactId", "must not be empty: every review needs a contact")
    content = _content(raw.get("content"))
    now = now_iso()
    status = state.config.initial_moderation
    record: Record = {
        "id": new_id(),
        "namespace": str(raw["namespace"]),
        "entityId": str(raw["entityId"]),
        "author": {"contactId": str(author["contactId"]), "authorName": author.get("authorName")},
        "content": content,
        "createdDate": now,
        "updatedDate": now,
        "reviewDate": normalize_iso(raw["reviewDate"]) if raw.get("reviewDate") else now,
        "foundHelpful": 0,
        "foundUnhelpful": 0,
        "helpfulness": 0,
        "moderation": {"moderationStatus": status, "manuallyChanged": False},
        "revision": "1",
        "verified": False,
        "origin": (
            {"type": "APP", "appId": identity.get("appId")}
            if identity.get("identityType") == "APP"
            else {"type": "ORGANIC"}
        ),
        "publishCount": 1 if status == "APPROVED" else 0,
    }
    record["relevanceScore"] = relevance(record)
    existing = state.review_keys.get(review_key(record))
    if existing is not None:
        raise ApiError(
            409,
            DUPLICATE_REVIEW_CODE,
            f"contact {record['author']['contactId']} already reviewed {record['namespace']}/{record['entityId']}",
            {"existingReviewId": existing},
            message="Duplicate review",
        )
    state.put("reviews", record)
    state.stats.count_write()
    state.emit(EVENT + "created", FQDN, "created", record["id"], identity, created=record)
    # Moderation Status Changed fires on creation too; Published when it starts approved (SPEC.md §5.2).
    state.emit(
        EVENT + "moderation_status_changed",
        FQDN,
        "moderation_status_changed",
        record["id"],
        identity,
        action={"review": record, "previousModerationStatus": "UNKNOWN"},
    )
    if status == "APPROVED":
        state.emit(
            EVENT + "review_published",
            FQDN,
            "review_published",
            record["id"],
            identity,
            action={"review": record},
        )
    return record


def _check_revision(record: Record, revision: Any, what: str) -> None:
    if revision is None or revision == "":
        raise validation_error(f"{what}.revision", "must be given: send the current revision")
    if str(revision) != str(record["revision"]):
        raise ApiError(
            409,
            REVISION_MISMATCH_CODE,
            f"{what} {record['id']} is at revision {record['revision']}, the request sent {revision}",
            {"id": record["id"], "currentRevision": record["revision"]},
        )


def _bump(record: Record) -> None:
    record["revision"] = str(int(record["revision"]) + 1)
    record["updatedDate"] = now_iso()


UPDATABLE = (
    "content.title",
    "content.body",
    "content.media",
    "content.rating",
    "reviewDate",
    "author.authorName",
)


def update_review(state: EmulatorState, review_id: str, body: dict[str, Any], identity: dict[str, Any]) -> Record:
    patch = body.get("review")
    if not isinstance(patch, dict):
        raise validation_error("review", "must not be empty")
    old = get_review(state, review_id)
    _check_revision(old, patch.get("revision"), "review")
    raw_mask = body.get("fieldMask")
    if isinstance(raw_mask, str):
        mask = [p.strip() for p in raw_mask.split(",") if p.strip()]
    elif isinstance(raw_mask, dict):
        mask = list(raw_mask.get("paths") or [])
    else:
        mask = None
    record = copy.deepcopy(old)
    content_patch = patch.get("content") or {}
    author_patch = patch.get("author") or {}
    # Read-only fields (votes, moderation, origin, reply…) in the body are ignored, as SPEC.md §5.2 suggests.
    for path in mask if mask is not None else UPDATABLE:
        if path not in UPDATABLE:
            raise validation_error("fieldMask", f"{path!r} cannot be updated", "INVALID_FIELD_MASK")
        section, key = path.split(".") if "." in path else ("", path)
        source = content_patch if section == "content" else author_patch if section == "author" else patch
        if key not in source:
            continue
        value = source[key]
        if path == "content.media":
            record["content"]["media"] = _media(value)
        elif path == "content.rating":
            record["content"]["rating"] = _content({"rating": value}, "review.content")["rating"]
        elif path == "reviewDate":
            record["reviewDate"] = normalize_iso(value) if value else record["createdDate"]
        elif section == "content":
            if value is None:
                record["content"].pop(key, None)
            else:
                record["content"][key] = str(value)
        else:
            record["author"]["authorName"] = value
    _bump(record)
    record["relevanceScore"] = relevance(record)
    state.put("reviews", record)
    state.stats.count_write()
    state.emit(EVENT + "updated", FQDN, "updated", review_id, identity, updated=record)
    return record


def delete_review(state: EmulatorState, review_id: str, identity: dict[str, Any]) -> Record:
    record = get_review(state, review_id)
    state.delete("reviews", review_id)
    state.stats.count_write()
    state.emit(EVENT + "deleted", FQDN, "deleted", review_id, identity, deleted=record)
    return record


def moderate_review(state: EmulatorState, review_id: str, status: Any, identity: dict[str, Any]) -> Record:
    if status not in MODERATION_TARGETS:
        raise validation_error(
            "status", f"must be one of {', '.join(MODERATION_TARGETS)}, got {status!r}", "INVALID_ENUM_VALUE"
        )
    old = get_review(state, review_id)
    previous = old["moderation"]["moderationStatus"]
    record = copy.deepcopy(old)
    record["moderation"] = {"moderationStatus": status, "manuallyChanged": True}
    _bump(record)
    if status == "APPROVED" and previous != "APPROVED":
        record["publishCount"] = int(record.get("publishCount", 0)) + 1
    state.put("reviews", record)
    state.stats.count_write()
    if previous != status:
        state.emit(
            EVENT + "moderation_status_changed",
            FQDN,
            "moderation_status_changed",
            review_id,
            identity,
            action={"review": record, "previousModerationStatus": previous},
        )
        if status == "APPROVED":
            state.emit(
                EVENT + "review_published",
                FQDN,
                "review_published",
                review_id,
                identity,
                action={"review": record},
            )
    return record


def set_reply(state: EmulatorState, review_id: str, message: Any, identity: dict[str, Any]) -> Record:
    if not isinstance(message, str) or not message:
        raise validation_error("message", "must not be empty")
    if len(message) > 10000:
        raise validation_error("message", "must be at most 10000 characters", "MAX_LENGTH")
    old = get_review(state, review_id)
    record = copy.deepcopy(old)
    now = now_iso()
    created = (old.get("reply") or {}).get("createdDate") or now
    record["reply"] = {"message": message, "createdDate": created, "updatedDate": now}
    _bump(record)
    state.put("reviews", record)
    state.stats.count_write()
    state.emit(EVENT + "updated", FQDN, "updated", review_id, identity, updated=record)
    return record


def remove_reply(state: EmulatorState, review_id: str, identity: dict[str, Any]) -> Record:
    old = get_review(state, review_id)
    record = copy.deepcopy(old)
    record.pop("reply", None)
    _bump(record)
    state.put("reviews", record)
    state.stats.count_write()
    state.emit(EVENT + "updated", FQDN, "updated", review_id, identity, updated=record)
    return record


def private_filter(flags: dict[str, Any]) -> tuple[Callable[[Record], bool] | None, str]:
    """Without returnPrivateReviews only published (approved) reviews are visible (SPEC.md §5.2)."""
    return (None, "private") if flags.get("private") else (is_public, "public")


# ------------------------------------------------------------------------------------------- handlers


def h_create(ctx: Ctx) -> Any:
    return {"review": create_review(ctx.state, ctx.body.get("review"), ctx.identity)}


def h_get(ctx: Ctx) -> Any:
    review_id = ctx.path_params["reviewId"]
    record = get_review(ctx.state, review_id)
    if not is_public(record) and not ctx.flag("returnPrivateReviews"):
        raise not_found("REVIEW_NOT_FOUND", "review", review_id)
    return b'{"review":' + ctx.state.reviews.json(review_id) + b"}"


def h_update(ctx: Ctx) -> Any:
    return {"review": update_review(ctx.state, ctx.path_params["reviewId"], ctx.body, ctx.identity)}


def h_delete(ctx: Ctx) -> Any:
    return {"review": delete_review(ctx.state, ctx.path_params["reviewId"], ctx.identity)}


def h_query(ctx: Ctx) -> Any:
    return cursor_page(
        ctx.state.reviews,
        REVIEWS_SPEC,
        ctx.obj("query"),
        "reviews",
        "metadata",
        flags={"private": ctx.flag("returnPrivateReviews")},
        extra_for=private_filter,
    )


def h_count(ctx: Ctx) -> Any:
    flt = compile_filter(REVIEWS_SPEC, ctx.body.get("filter"))
    extra, key = private_filter({"private": ctx.flag("includePrivateReviews") or ctx.flag("returnPrivateReviews")})
    return {"count": len(ctx.state.reviews.matching_ids(REVIEWS_SPEC, flt, DEFAULT_SORT, extra, key))}


def h_moderate(ctx: Ctx) -> Any:
    return {"review": moderate_review(ctx.state, ctx.path_params["reviewId"], ctx.body.get("status"), ctx.identity)}


def h_set_reply(ctx: Ctx) -> Any:
    return {"review": set_reply(ctx.state, ctx.path_params["reviewId"], ctx.body.get("message"), ctx.identity)}


def h_remove_reply(ctx: Ctx) -> Any:
    return {"review": remove_reply(ctx.state, ctx.path_params["reviewId"], ctx.identity)}


def bulk_results(
    items: Any, limit: int, make: Callable[[Any], Record], entity_key: str, return_entity: bool, field: str
) -> dict[str, Any]:
    """Run creates one by one; failures are reported per item, never as a failed request."""
    if not isinstance(items, list) or not 1 <= len(items) <= limit:
        raise validation_error(field, f"must list 1 to {limit} items", "SIZE")
    results: list[dict[str, Any]] = []
    ok = 0
    for index, item in enumerate(items):
        try:
            record = make(item)
        except ApiError as exc:
            results.append(
                {
                    "itemMetadata": {
                        "originalIndex": index,
                        "success": False,
                        "error": {"code": exc.code, "description": exc.description, "data": exc.data},
                    }
                }
            )
            continue
        ok += 1
        result: dict[str, Any] = {"itemMetadata": {"id": record["id"], "originalIndex": index, "success": True}}
        if return_entity:
            result[entity_key] = record
        results.append(result)
    return {
        "results": results,
        "bulkActionMetadata": {
            "totalSuccesses": ok,
            "totalFailures": len(items) - ok,
            "undetailedFailures": 0,
        },
    }


def h_bulk_create(ctx: Ctx) -> Any:
    return bulk_results(
        ctx.body.get("reviews"),
        100,
        lambda item: create_review(ctx.state, item, ctx.identity),
        "review",
        ctx.flag("returnEntity"),
        "reviews",
    )


ROUTES = [
    ("POST", BASE, h_create),
    ("POST", BASE + "/query", h_query),
    ("POST", BASE + "/count", h_count),
    ("GET", BASE + "/{reviewId}", h_get),
    ("PATCH", BASE + "/{reviewId}", h_update),
    ("DELETE", BASE + "/{reviewId}", h_delete),
    ("PATCH", BASE + "/{reviewId}/moderate", h_moderate),
    ("PATCH", BASE + "/{reviewId}/reply", h_set_reply),
    ("DELETE", BASE + "/{reviewId}/reply", h_remove_reply),
    ("POST", BULK_CREATE, h_bulk_create),
]
