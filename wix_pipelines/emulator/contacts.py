"""Contacts v4 (SPEC.md §3): create, get, update, list, query, delete, merge, preview-merge, labels."""

from __future__ import annotations

import copy
from typing import Any

from wix_pipelines.emulator.context import Ctx
from wix_pipelines.emulator.errors import ApiError, not_found, validation_error
from wix_pipelines.emulator.paging import offset_page
from wix_pipelines.emulator.query import CONTACTS_SPEC
from wix_pipelines.emulator.state import EmulatorState, new_id, phone_digits
from wix_pipelines.emulator.store import Record
from wix_pipelines.emulator.timeutil import now_iso

BASE = "/contacts/v4/contacts"
FQDN = "wix.contacts.v4.contact"
EVENT = "wix.contacts.v4.contact_"
SYSTEM_EXT_PREFIX = "emailSubscriptions."
SUB_STATUS = "emailSubscriptions.subscriptionStatus"
DELIVERABILITY = "emailSubscriptions.deliverabilityStatus"
EFFECTIVE_EMAIL = "emailSubscriptions.effectiveEmail"
LIST_KEYS = ("emails", "phones", "addresses")

# Calling codes for the countries the seed uses; enough to derive `e164Phone` (read-only on Wix).
CALLING_CODES = {
    "US": "1", "CA": "1", "GB": "44", "DE": "49", "FR": "33", "IL": "972", "AU": "61", "ES": "34",
    "IT": "39", "NL": "31", "BR": "55", "IN": "91", "JP": "81", "MX": "52", "IE": "353", "SE": "46",
}  # fmt: skip

# Projection sets (SPEC.md §2.6 names them; their exact members are not documented: a project choice).
_BASIC = ("id", "revision", "info.name", "primaryInfo")
FIELDSETS: dict[str, tuple[str, ...]] = {
    "BASIC": _BASIC,
    "COMMUNICATION_DETAILS": (*_BASIC, "info.emails", "info.phones", "info.addresses", "primaryEmail", "primaryPhone"),
    "EXTENDED": (
        *_BASIC, "info.emails", "info.phones", "info.addresses", "primaryEmail", "primaryPhone", "info.company",
        "info.jobTitle", "info.birthdate", "info.locale", "info.labelKeys", "info.extendedFields", "createdDate",
        "updatedDate", "lastActivity", "source",
    ),
}  # fmt: skip


# ---------------------------------------------------------------------------------------- derivation


def e164(phone: str, country: str | None) -> str | None:
    digits = "".join(ch for ch in phone if ch.isdigit())
    if not digits:
        return None
    if phone.strip().startswith("+"):
        return "+" + digits
    code = CALLING_CODES.get((country or "").upper())
    if code is None:
        return None
    if digits.startswith(code) and len(digits) > 10:
        return "+" + digits
    return "+" + code + digits.lstrip("0")


def _primary(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    flagged = [i for i in items if i.get("primary")]
    if len(flagged) > 1:
        raise ApiError(400, "CANNOT_HAVE_MULTIPLE_PRIMARY_INFO", "more than one item is flagged primary")
    if flagged:
        return flagged[0]
    if items:  # SPEC.md §3.2: none flagged → the first becomes primary (a suggestion we follow)
        items[0]["primary"] = True
        return items[0]
    return None


def _items(info: dict[str, Any], key: str) -> list[dict[str, Any]]:
    holder = info.get(key)
    if holder is None:
        return []
    if not isinstance(holder, dict) or not isinstance(holder.get("items", []), list):
        raise validation_error(f"info.{key}", "must be an object {items: [...]}", "INVALID_FORMAT")
    return holder.setdefault("items", [])


def complete_contact(record: Record, previous: Record | None = None) -> Record:
    """Fill read-only derived fields: item ids, primaries, e164, primaryInfo/Email/Phone, system fields."""
    record.setdefault("revision", 1)
    record["revision"] = int(record["revision"])
    info = record.setdefault("info", {})
    emails, phones, addresses = (_items(info, k) for k in LIST_KEYS)
    for item in (*emails, *phones, *addresses):
        item.setdefault("id", new_id())
        item.setdefault("tag", "UNTAGGED")
    for phone in phones:
        number = e164(str(phone.get("phone", "")), phone.get("countryCode"))
        if number:
            phone["e164Phone"] = number
    primary_email = _primary(emails)
    primary_phone = _primary(phones)
    for key in LIST_KEYS:
        if key in info and not info[key].get("items"):
            del info[key]
    prev_email = (previous or {}).get("primaryEmail") or {}
    ext = ((info.get("extendedFields") or {}).get("items")) or {}
    record["primaryInfo"] = {}
    if primary_email is not None:
        address = primary_email["email"]
        given = record.get("primaryEmail") or {}
        same = prev_email.get("email", "").lower() == address.lower()
        status = (
            given.get("subscriptionStatus")
            or (prev_email.get("subscriptionStatus") if same else None)
            or ext.get(SUB_STATUS)
            or "NOT_SET"
        )
        deliverability = (
            given.get("deliverabilityStatus")
            or (prev_email.get("deliverabilityStatus") if same else None)
            or ext.get(DELIVERABILITY)
            or "NOT_SET"
        )
        record["primaryEmail"] = {
            "email": address,
            "subscriptionStatus": status,
            "deliverabilityStatus": deliverability,
        }
        record["primaryInfo"]["email"] = address
        ext.setdefault(SUB_STATUS, status)
        ext.setdefault(DELIVERABILITY, deliverability)
        ext[EFFECTIVE_EMAIL] = address
    else:
        record.pop("primaryEmail", None)
    if primary_phone is not None:
        prev_phone = (previous or {}).get("primaryPhone") or {}
        number = primary_phone.get("e164Phone")
        same_phone = prev_phone.get("e164Phone") == number and number
        cc = CALLING_CODES.get(str(primary_phone.get("countryCode", "")).upper())
        record["primaryPhone"] = {
            "countryCode": primary_phone.get("countryCode"),
            "e164Phone": number,
            "formattedPhone": f"+{cc} {primary_phone.get('phone')}" if cc and number else primary_phone.get("phone"),
            "subscriptionStatus": (
                (record.get("primaryPhone") or {}).get("subscriptionStatus")
                or (prev_phone.get("subscriptionStatus") if same_phone else None)
                or ("NOT_SET" if number else "NO_SUBSCRIPTION_STATUS")
            ),
            "phone": primary_phone.get("phone"),
        }
        record["primaryInfo"]["phone"] = primary_phone.get("phone")
    else:
        record.pop("primaryPhone", None)
    if ext:
        info["extendedFields"] = {"items": ext}
    record.setdefault("source", {"sourceType": "OTHER"})
    record.setdefault("lastActivity", {"activityDate": record.get("createdDate"), "activityType": "CONTACT_CREATED"})
    return record


def _has_data(info: dict[str, Any]) -> bool:
    name = info.get("name") or {}
    emails = ((info.get("emails") or {}).get("items")) or []
    phones = ((info.get("phones") or {}).get("items")) or []
    return bool(name.get("first") or name.get("last") or any(e.get("email") for e in emails) or phones)


def _check_extended_fields(state: EmulatorState, info: dict[str, Any]) -> None:
    items = ((info.get("extendedFields") or {}).get("items")) or {}
    if not isinstance(items, dict):
        raise validation_error("info.extendedFields.items", "must be a map of key to value", "INVALID_FORMAT")
    for key, value in items.items():
        if key.startswith(SYSTEM_EXT_PREFIX):
            continue
        field = state.extended_fields.get(key)
        if field is None:
            raise ApiError(
                400,
                "INVALID_EXTENDED_FIELD_VALUE",
                f"extended field {key!r} does not exist; create it with find-or-create first",
                {"key": key},
            )
        if value is not None and field.get("dataType") == "NUMBER" and not isinstance(value, int | float):
            raise ApiError(
                400,
                "INVALID_EXTENDED_FIELD_VALUE",
                f"extended field {key!r} is a NUMBER, got {value!r}",
                {"key": key},
            )


def _check_duplicates(state: EmulatorState, info: dict[str, Any], own_id: str | None) -> None:
    """SPEC.md §3.2: an email already used by another contact, or (no email) a phone, is a duplicate."""
    emails = [str(i.get("email", "")).strip() for i in (((info.get("emails") or {}).get("items")) or [])]
    emails = [e for e in emails if e]
    for email in emails:
        others = state.email_index.get(email.lower(), set()) - {own_id}
        if others:
            raise ApiError(
                409,
                "DUPLICATE_CONTACT_EXISTS",
                "an existing contact already uses this email",
                {"duplicateContactId": min(others), "duplicateEmail": email},
                message="Duplicate contact exists",
            )
    if emails:
        return
    for item in ((info.get("phones") or {}).get("items")) or []:
        number = e164(str(item.get("phone", "")), item.get("countryCode"))
        key = number or phone_digits(item)
        others = state.phone_index.get(key, set()) - {own_id}
        if key and others:
            raise ApiError(
                409,
                "DUPLICATE_CONTACT_EXISTS",
                "an existing contact already uses this phone",
                {"duplicateContactId": min(others), "duplicatePhone": item.get("phone")},
                message="Duplicate contact exists",
            )


def _source_for(identity: dict[str, Any]) -> dict[str, Any]:
    if identity.get("identityType") == "APP":
        return {"sourceType": "WIX_APP", "appId": identity.get("appId")}
    return {"sourceType": "OTHER"}  # API-key creates: [U] in SPEC.md §3.1; a project choice


# --------------------------------------------------------------------------------------- operations


def get_live(state: EmulatorState, contact_id: str) -> Record:
    record = state.contacts.get(contact_id)
    if record is None:
        raise not_found("CONTACT_NOT_FOUND", "contact", contact_id)
    return record


def create_contact(state: EmulatorState, info: Any, allow_duplicates: bool, identity: dict[str, Any]) -> Record:
    if not isinstance(info, dict) or not _has_data(info):
        raise ApiError(400, "INSUFFICIENT_CONTACT_DATA", "info must contain at least a name, an email or a phone")
    info = copy.deepcopy(info)
    _check_extended_fields(state, info)
    if not allow_duplicates:
        _check_duplicates(state, info, None)
    now = now_iso()
    record: Record = {
        "id": new_id(),
        "revision": 1,
        "source": _source_for(identity),
        "createdDate": now,
        "updatedDate": now,
        "lastActivity": {"activityDate": now, "activityType": "CONTACT_CREATED"},
        "info": info,
    }
    complete_contact(record)
    state.put("contacts", record)
    state.stats.count_write()
    state.emit(EVENT + "created", FQDN, "created", record["id"], identity, created=record)
    return record


def _apply_mask(target: dict[str, Any], source: dict[str, Any], paths: list[str]) -> None:
    for path in paths:
        parts = path.split(".")
        if parts and parts[0] == "info":
            parts = parts[1:]
        if not parts:
            continue
        src: Any = source
        for part in parts:
            src = src.get(part) if isinstance(src, dict) else None
        dst = target
        for part in parts[:-1]:
            dst = dst.setdefault(part, {})
        if src is None:
            dst.pop(parts[-1], None)
        else:
            dst[parts[-1]] = copy.deepcopy(src)


def _mask_paths(raw: Any) -> list[str] | None:
    """Field masks arrive as one comma-separated string (SDK) or as {paths: [...]} (older docs)."""
    if raw is None or raw == "" or raw == {}:
        return None
    if isinstance(raw, str):
        return [p.strip() for p in raw.split(",") if p.strip()]
    if isinstance(raw, dict) and isinstance(raw.get("paths"), list):
        return [str(p) for p in raw["paths"]]
    if isinstance(raw, list):
        return [str(p) for p in raw]
    raise validation_error("fieldMask", "must be a comma-separated string or {paths: [...]}", "INVALID_FORMAT")


def merged_info(current: dict[str, Any], patch: dict[str, Any], mask: list[str] | None) -> dict[str, Any]:
    """SPEC.md §3.3 suggestion: sub-objects given in `info` replace wholesale, absent ones stay;
    `extendedFields.items` merge by key (a null or empty value removes the key)."""
    info = copy.deepcopy(current)
    if mask is not None:
        _apply_mask(info, patch, mask)
        return info
    for key, value in patch.items():
        if key == "extendedFields":
            items = dict(((info.get("extendedFields") or {}).get("items")) or {})
            for ext_key, ext_value in (((value or {}).get("items")) or {}).items():
                if ext_value is None or ext_value == "":
                    items.pop(ext_key, None)
                else:
                    items[ext_key] = ext_value
            info["extendedFields"] = {"items": items}
        elif value is None:
            info.pop(key, None)
        else:
            info[key] = copy.deepcopy(value)
    return info


def _check_revision(record: Record, revision: Any) -> None:
    if revision is None:
        raise validation_error("revision", "must be given: send the contact's current revision")
    try:
        given = int(revision)
    except (TypeError, ValueError):
        raise validation_error("revision", f"must be a number, got {revision!r}", "INVALID_FORMAT") from None
    if given != record["revision"]:
        raise ApiError(
            409,
            "CONTACT_ALREADY_CHANGED",
            f"contact {record['id']} is at revision {record['revision']}, the request sent {given}",
            {"contactId": record["id"], "currentRevision": record["revision"]},
        )


def _store_update(
    state: EmulatorState,
    old: Record,
    info: dict[str, Any],
    identity: dict[str, Any],
    originated_from: str | None = None,
    activity: str | None = None,
) -> Record:
    now = now_iso()
    record = copy.deepcopy(old)
    record["info"] = info
    record["revision"] = old["revision"] + 1
    record["updatedDate"] = now
    if activity:
        record["lastActivity"] = {"activityDate": now, "activityType": activity}
    complete_contact(record, previous=old)
    state.put("contacts", record)
    state.stats.count_write()
    state.emit(
        EVENT + "updated",
        FQDN,
        "updated",
        record["id"],
        identity,
        updated=record,
        originated_from=originated_from,
    )
    return record


def update_contact(state: EmulatorState, contact_id: str, body: dict[str, Any], identity: dict[str, Any]) -> Record:
    old = get_live(state, contact_id)
    _check_revision(old, body.get("revision"))
    patch = body.get("info")
    if not isinstance(patch, dict) or not patch:
        raise ApiError(400, "INSUFFICIENT_UPDATE_CONTACT_DATA", "info must contain the fields to update")
    info = merged_info(old["info"], patch, _mask_paths(body.get("fieldMask")))
    if not _has_data(info):
        raise ApiError(400, "INSUFFICIENT_CONTACT_DATA", "the update would leave no name, email or phone")
    _check_extended_fields(state, info)
    if not body.get("allowDuplicates"):
        _check_duplicates(state, info, contact_id)
    return _store_update(state, old, info, identity)


def delete_contact(
    state: EmulatorState, contact_id: str, identity: dict[str, Any], originated_from: str | None = None
) -> None:
    get_live(state, contact_id)
    state.delete("contacts", contact_id)
    state.stats.count_write()
    state.emit(
        EVENT + "deleted",
        FQDN,
        "deleted",
        contact_id,
        identity,
        is_deleted=True,
        originated_from=originated_from,
    )


def _append_unique(target: list[dict[str, Any]], extra: list[dict[str, Any]], key: Any) -> None:
    seen = {key(i) for i in target}
    for item in extra:
        k = key(item)
        if k not in seen:
            seen.add(k)
            new_item = copy.deepcopy(item)
            new_item["primary"] = False
            new_item["id"] = new_id()
            target.append(new_item)


def merge_preview(state: EmulatorState, target: Record, source_ids: list[str]) -> dict[str, Any]:
    """SPEC.md §3.8: target data is never overwritten; lists from the sources are appended without
    duplicates; blank target fields are filled from the sources."""
    info = copy.deepcopy(target["info"])
    for source_id in source_ids:
        src = get_live(state, source_id)["info"]
        for key, keyfn in (
            ("emails", lambda i: str(i.get("email", "")).lower()),
            ("phones", phone_digits),
            ("addresses", lambda i: repr(sorted((i.get("address") or {}).items()))),
        ):
            extra = ((src.get(key) or {}).get("items")) or []
            if extra:
                items = info.setdefault(key, {}).setdefault("items", [])
                _append_unique(items, extra, keyfn)
        labels = ((src.get("labelKeys") or {}).get("items")) or []
        if labels:
            mine = info.setdefault("labelKeys", {}).setdefault("items", [])
            mine.extend(label for label in labels if label not in mine)
        ext_src = ((src.get("extendedFields") or {}).get("items")) or {}
        if ext_src:
            ext = info.setdefault("extendedFields", {}).setdefault("items", {})
            for k, v in ext_src.items():
                if not k.startswith(SYSTEM_EXT_PREFIX):
                    ext.setdefault(k, v)
        for key in ("company", "jobTitle", "birthdate", "locale", "picture"):
            if not info.get(key) and src.get(key):
                info[key] = copy.deepcopy(src[key])
        name = info.setdefault("name", {})
        for part in ("first", "last"):
            if not name.get(part) and (src.get("name") or {}).get(part):
                name[part] = src["name"][part]
        if not name:
            info.pop("name")
    return info


def _merge_sources(body: dict[str, Any], target_id: str) -> list[str]:
    sources = body.get("sourceContactIds")
    if not isinstance(sources, list) or not (1 <= len(sources) <= 5):
        raise ApiError(400, "ILLEGAL_MERGE", "sourceContactIds must list 1 to 5 contact ids")
    if target_id in sources or len(set(sources)) != len(sources):
        raise ApiError(400, "ILLEGAL_MERGE", "sources must be distinct and must not include the target")
    return [str(s) for s in sources]


def merge_contacts(state: EmulatorState, target_id: str, body: dict[str, Any], identity: dict[str, Any]) -> Record:
    target = get_live(state, target_id)
    sources = _merge_sources(body, target_id)
    _check_revision(target, body.get("targetContactRevision"))
    info = merge_preview(state, target, sources)
    merged = _store_update(state, target, info, identity, originated_from="merge", activity="CONTACT_MERGED")
    # Merged fires first on Wix; our updated event above is emitted just before it — swap so the order is
    # merged → updated(target) → deleted(sources), as SPEC.md §3.8 lists them.
    updated_event = state.events.pop()
    state.emit(
        EVENT + "merged",
        FQDN,
        "merged",
        target_id,
        identity,
        action={"targetContactId": target_id, "sourceContactIds": sources, "targetContact": merged},
    )
    state.events.append(updated_event)
    for source_id in sources:
        delete_contact(state, source_id, identity, originated_from="merge")
        state.merged_into[source_id] = target_id
    return merged


# ------------------------------------------------------------------------------------------ projection


def projection_paths(fields: list[str], fieldsets: list[str]) -> tuple[str, ...] | None:
    """Union of `fields` and the named fieldsets; None means the whole contact (the default, FULL)."""
    if not fields and not fieldsets:
        return None
    paths: set[str] = {"id", "revision"}
    for name in fieldsets:
        if name == "FULL":
            return None
        if name not in FIELDSETS:
            raise validation_error("fieldsets", f"unknown fieldset {name!r}", "INVALID_ENUM_VALUE")
        paths.update(FIELDSETS[name])
    paths.update(fields)
    return tuple(sorted(paths))


def project(record: Record, paths: tuple[str, ...]) -> Record:
    out: Record = {}
    for path in paths:
        parts = path.split(".")
        src: Any = record
        for part in parts:
            src = src.get(part) if isinstance(src, dict) else None
            if src is None:
                break
        if src is None:
            continue
        dst = out
        for part in parts[:-1]:
            dst = dst.setdefault(part, {})
        dst[parts[-1]] = src
    return out


def _page(
    state: EmulatorState,
    raw_filter: Any,
    raw_sort: Any,
    paging: dict[str, Any],
    paths: tuple[str, ...] | None,
) -> bytes:
    collection = state.contacts
    serialize = None
    if paths is not None:
        key = ",".join(paths).encode()
        serialize = lambda i: collection.json_projected(i, key, lambda r: project(r, paths))  # noqa: E731
    return offset_page(
        collection,
        CONTACTS_SPEC,
        raw_filter,
        raw_sort,
        paging.get("limit"),
        paging.get("offset"),
        "contacts",
        serialize=serialize,
    )


# --------------------------------------------------------------------------------------------- handlers


def _contact_body(record: Record, **extra: Any) -> dict[str, Any]:
    return {"contact": record, **extra}


def h_create(ctx: Ctx) -> Any:
    record = create_contact(ctx.state, ctx.body.get("info"), bool(ctx.body.get("allowDuplicates")), ctx.identity)
    return _contact_body(record)


def h_get(ctx: Ctx) -> Any:
    state = ctx.state
    contact_id = ctx.path_params["contactId"]
    response_type = "REGULAR"
    seen = set()
    while contact_id not in state.contacts and contact_id in state.merged_into and contact_id not in seen:
        seen.add(contact_id)
        contact_id = state.merged_into[contact_id]
        response_type = "MERGED"
    record = get_live(state, contact_id)
    paths = projection_paths(ctx.param_list("fields"), ctx.param_list("fieldsets"))
    body = state.contacts.json(contact_id) if paths is None else None
    if body is not None:
        return b'{"contact":' + body + b',"responseType":"' + response_type.encode() + b'"}'
    return {"contact": project(record, paths or ()), "responseType": response_type}


def h_update(ctx: Ctx) -> Any:
    return _contact_body(update_contact(ctx.state, ctx.path_params["contactId"], ctx.body, ctx.identity))


def h_delete(ctx: Ctx) -> Any:
    delete_contact(ctx.state, ctx.path_params["contactId"], ctx.identity)
    return {}


def h_list(ctx: Ctx) -> Any:
    sort = None
    if ctx.param("sort.fieldName"):
        sort = [{"fieldName": ctx.param("sort.fieldName"), "order": ctx.param("sort.order") or "ASC"}]
    paging = {"limit": ctx.param("paging.limit"), "offset": ctx.param("paging.offset")}
    paths = projection_paths(ctx.param_list("fields"), ctx.param_list("fieldsets"))
    return _page(ctx.state, None, sort, paging, paths)


def h_query(ctx: Ctx) -> Any:
    query = ctx.obj("query")
    paging = query.get("paging") or {}
    if not isinstance(paging, dict):
        raise ApiError(400, "ILLEGAL_LIMIT", "paging must be an object {limit, offset}")
    paths = projection_paths(list(query.get("fields") or []), list(query.get("fieldsets") or []))
    return _page(ctx.state, query.get("filter"), query.get("sort"), paging, paths)


def h_merge(ctx: Ctx) -> Any:
    return _contact_body(merge_contacts(ctx.state, ctx.path_params["contactId"], ctx.body, ctx.identity))


def h_preview_merge(ctx: Ctx) -> Any:
    target = get_live(ctx.state, ctx.path_params["contactId"])
    sources = _merge_sources(ctx.body, target["id"])
    preview = copy.deepcopy(target)
    preview["info"] = merge_preview(ctx.state, target, sources)
    complete_contact(preview, previous=target)
    return _contact_body(preview)


def _labels(ctx: Ctx, keys: list[str], add: bool) -> Any:
    old = get_live(ctx.state, ctx.path_params["contactId"])
    if not keys:
        raise validation_error("labelKeys", "must list at least one label key")
    info = copy.deepcopy(old["info"])
    current = ((info.get("labelKeys") or {}).get("items")) or []
    current = [*current, *(k for k in keys if k not in current)] if add else [k for k in current if k not in keys]
    if current:
        info["labelKeys"] = {"items": current}
    else:
        info.pop("labelKeys", None)
    return _contact_body(_store_update(ctx.state, old, info, ctx.identity))


def h_label(ctx: Ctx) -> Any:
    keys = ctx.body.get("labelKeys") or []
    if isinstance(keys, str):
        keys = [keys]
    return _labels(ctx, [str(k) for k in keys], add=True)


def h_unlabel(ctx: Ctx) -> Any:
    return _labels(ctx, ctx.param_list("labelKeys"), add=False)


ROUTES = [
    ("POST", BASE, h_create),
    ("GET", BASE, h_list),
    ("POST", BASE + "/query", h_query),
    ("GET", BASE + "/{contactId}", h_get),
    ("PATCH", BASE + "/{contactId}", h_update),
    ("DELETE", BASE + "/{contactId}", h_delete),
    ("POST", BASE + "/{contactId}/merge", h_merge),
    ("POST", BASE + "/{contactId}/preview-merge", h_preview_merge),
    ("POST", BASE + "/{contactId}/labels", h_label),
    ("DELETE", BASE + "/{contactId}/labels", h_unlabel),
]
