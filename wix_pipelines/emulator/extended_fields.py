"""Extended fields (SPEC.md §4): find-or-create, list, get, query, rename, delete."""

from __future__ import annotations

import re
from typing import Any

import orjson

from wix_pipelines.emulator.context import Ctx
from wix_pipelines.emulator.errors import ApiError, not_found, validation_error
from wix_pipelines.emulator.paging import offset_page
from wix_pipelines.emulator.query import EXTENDED_FIELDS_SPEC
from wix_pipelines.emulator.state import EmulatorState
from wix_pipelines.emulator.store import Record
from wix_pipelines.emulator.timeutil import now_iso

BASE = "/contacts/v4/extended-fields"
FQDN = "wix.contacts.v4.extended_field"
EVENT = "wix.contacts.v4.extended-field_"  # note the hyphen (SPEC.md §2.8)
DATA_TYPES = ("TEXT", "NUMBER", "DATE", "URL")
MAX_CUSTOM_FIELDS = 100


def slug(display_name: str) -> str:
    """`custom.` key part: lower-case, spaces to hyphens, other non-alphanumerics dropped.

    Documented by one example only ("My Field" → "my-field", SPEC.md §4); the rest is our reading of it.
    """
    text = re.sub(r"\s+", "-", display_name.strip().lower())
    text = re.sub(r"[^a-z0-9-]", "", text)
    text = re.sub(r"-{2,}", "-", text).strip("-")
    return text or "field"


def public(record: Record) -> Record:
    # Records are keyed by `id` internally; the wire object has only `key`.
    return {k: v for k, v in record.items() if k != "id"}


def _json(state: EmulatorState, key: str) -> bytes:
    return state.extended_fields.json_projected(key, b"public", public)


def find_or_create(
    state: EmulatorState, display_name: Any, data_type: Any, identity: dict[str, Any]
) -> tuple[Record, bool]:
    if not isinstance(display_name, str) or not display_name.strip():
        raise validation_error("displayName", "must not be empty")
    if len(display_name) > 150:
        raise validation_error("displayName", "must be at most 150 characters", "MAX_LENGTH")
    custom = [f for f in state.extended_fields.values() if f.get("fieldType") == "USER_DEFINED"]
    for field in custom:
        if field["displayName"] == display_name:  # exact, case-sensitive match ([U] in SPEC.md §4)
            return field, False
    data_type = data_type or "TEXT"
    if data_type not in DATA_TYPES:
        raise validation_error(
            "dataType", f"must be one of {', '.join(DATA_TYPES)}, got {data_type!r}", "INVALID_ENUM_VALUE"
        )
    if len(custom) >= MAX_CUSTOM_FIELDS:
        raise ApiError(429, "FIELDS_QUOTA_EXCEEDED", f"a site can have at most {MAX_CUSTOM_FIELDS} custom fields")
    base = ("custom." + slug(display_name))[:80]
    key, n = base, 2
    while key in state.extended_fields:
        key = f"{base[:75]}-{n}"
        n += 1
    now = now_iso()
    record: Record = {
        "id": key,
        "namespace": "custom",
        "key": key,
        "displayName": display_name,
        "dataType": data_type,
        "fieldType": "USER_DEFINED",
        "createdDate": now,
        "updatedDate": now,
    }
    state.put("extended_fields", record)
    state.stats.count_write()
    state.emit(EVENT + "created", FQDN, "created", key, identity, created=public(record))
    return record, True


def get_field(state: EmulatorState, key: str) -> Record:
    record = state.extended_fields.get(key)
    if record is None:
        raise not_found("EXTENDED_FIELD_NOT_FOUND", "extended field", key)
    return record


def h_find_or_create(ctx: Ctx) -> Any:
    record, new = find_or_create(ctx.state, ctx.body.get("displayName"), ctx.body.get("dataType"), ctx.identity)
    return b'{"field":' + _json(ctx.state, record["id"]) + b',"newField":' + (b"true" if new else b"false") + b"}"


def h_get(ctx: Ctx) -> Any:
    record = get_field(ctx.state, ctx.path_params["key"])
    return b'{"field":' + _json(ctx.state, record["id"]) + b"}"


def h_list(ctx: Ctx) -> Any:
    flt: dict[str, Any] = {}
    if ctx.param("fieldType"):
        flt["fieldType"] = ctx.param("fieldType")
    if ctx.param("namespace"):
        flt["namespace"] = ctx.param("namespace")
    sort = None
    if ctx.param("sort.fieldName"):
        sort = [{"fieldName": ctx.param("sort.fieldName"), "order": ctx.param("sort.order") or "ASC"}]
    body = offset_page(
        ctx.state.extended_fields,
        EXTENDED_FIELDS_SPEC,
        flt,
        sort,
        ctx.param("paging.limit"),
        ctx.param("paging.offset"),
        "fields",
        metadata_key="metadata",  # List answers `metadata`, Query `pagingMetadata` (SPEC.md §2.7)
        serialize=lambda key: _json(ctx.state, key),
    )
    prefix = ctx.param("startsWith")
    if prefix is None:
        return body
    # `startsWith` is a case-sensitive display-name prefix (SPEC.md §4) — not a query-language operator.
    parsed = orjson.loads(body)
    parsed["fields"] = [f for f in parsed["fields"] if f["displayName"].startswith(prefix)]
    parsed["metadata"]["count"] = len(parsed["fields"])
    parsed["metadata"]["total"] = sum(
        1
        for f in ctx.state.extended_fields.values()
        if f["displayName"].startswith(prefix) and all(f.get(k) == v for k, v in flt.items())
    )
    return parsed


def h_query(ctx: Ctx) -> Any:
    query = ctx.obj("query")
    paging = query.get("paging") or {}
    return offset_page(
        ctx.state.extended_fields,
        EXTENDED_FIELDS_SPEC,
        query.get("filter"),
        query.get("sort"),
        paging.get("limit"),
        paging.get("offset"),
        "fields",
        serialize=lambda key: _json(ctx.state, key),
    )


def h_rename(ctx: Ctx) -> Any:
    record = dict(get_field(ctx.state, ctx.path_params["key"]))
    if record["fieldType"] == "SYSTEM":
        raise ApiError(400, "CANNOT_UPDATE_SYSTEM_FIELD", f"system field {record['key']} cannot be renamed")
    name = (ctx.obj("field")).get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise validation_error("field.displayName", "must not be empty")
    record["displayName"] = name
    record["updatedDate"] = now_iso()
    ctx.state.put("extended_fields", record)
    ctx.state.stats.count_write()
    ctx.state.emit(EVENT + "updated", FQDN, "updated", record["key"], ctx.identity, updated=public(record))
    return {"field": public(record)}


def h_delete(ctx: Ctx) -> Any:
    state = ctx.state
    record = get_field(state, ctx.path_params["key"])
    if record["fieldType"] == "SYSTEM":
        raise ApiError(400, "CANNOT_DELETE_SYSTEM_FIELD", f"system field {record['key']} cannot be deleted")
    key = record["key"]
    state.delete("extended_fields", key)
    # Deleting a field removes its values from every contact (SPEC.md §4); no contact events, as on Wix.
    for contact in list(state.contacts.values()):
        items = ((contact["info"].get("extendedFields") or {}).get("items")) or {}
        if key in items:
            updated = {
                **contact,
                "info": {
                    **contact["info"],
                    "extendedFields": {"items": {k: v for k, v in items.items() if k != key}},
                },
            }
            state.put("contacts", updated)
    state.stats.count_write()
    state.emit(EVENT + "deleted", FQDN, "deleted", key, ctx.identity, deleted=public(record))
    return {}


ROUTES = [
    ("POST", BASE, h_find_or_create),
    ("GET", BASE, h_list),
    ("POST", BASE + "/query", h_query),
    ("GET", BASE + "/{key}", h_get),
    ("PATCH", BASE + "/{key}", h_rename),
    ("DELETE", BASE + "/{key}", h_delete),
]
