"""Records in the sync's common language: external field names, normalised values, and a content hash.

Both sides are compared through :func:`wix_content` and :func:`external_content`, which keep only the mapped
content fields, under external names, with values normalised (absent, None and "" are the same; emails compare
case-insensitively; 4.0 equals 4). A record's content hash is the hash of that dict, so a write that leaves the
mapped content unchanged (stamping ``externalCrmId``, a vote on a review) is not a change for the sync.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from wix_pipelines.external.contract import ExternalRecord, Kind

from .config import SyncConfig


def _get(record: Mapping[str, Any], path: str) -> Any:
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def normalise(name: str, value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if name == "email" and isinstance(value, str):
        return value.strip().lower()
    return value


def _clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: normalise(k, v) for k, v in fields.items()}
    return {k: v for k, v in out.items() if v is not None}


def wix_content(kind: Kind, record: Mapping[str, Any], config: SyncConfig) -> dict[str, Any]:
    """The mapped content of a Wix record, under external field names."""
    return _clean({ext: _get(record, path) for path, ext in config.field_map(kind).items()})


def external_content(kind: Kind, record: ExternalRecord, config: SyncConfig) -> dict[str, Any]:
    """The mapped content of an external record (its natural-key fields other than email left out)."""
    names = set(config.field_map(kind).values())
    return _clean({k: v for k, v in record.fields.items() if k in names})


def content_hash(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(dict(content), option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def updated_at(record: Mapping[str, Any] | ExternalRecord | None) -> str | None:
    if record is None:
        return None
    if isinstance(record, ExternalRecord):
        return record.updated_at.isoformat() if record.updated_at else None
    value = record.get("updatedDate") or record.get("createdDate")
    return str(value) if value else None


# --- writing Wix payloads from external content ----------------------------------------------------------


def contact_info(
    content: Mapping[str, Any], config: SyncConfig, current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The Wix ``info`` to create or patch a contact with, from external content.

    Only mapped sub-objects are sent (PATCH replaces a given sub-object wholesale, SPEC.md §3.3): the name, the
    primary email/phone (other items of those lists are kept as they are), company and job title.
    """
    cur_info: dict[str, Any] = copy.deepcopy(dict((current or {}).get("info") or {}))
    info: dict[str, Any] = {}

    def value(path: str) -> Any:
        ext = config.contacts.get(path)
        return content.get(ext) if ext else None

    if "info.name.first" in config.contacts or "info.name.last" in config.contacts:
        name = dict(cur_info.get("name") or {})
        for part in ("first", "last"):
            path = f"info.name.{part}"
            if path in config.contacts:
                if value(path) is None:
                    name.pop(part, None)
                else:
                    name[part] = value(path)
        info["name"] = name
    for path, list_key, item_key, tag in (
        ("primaryInfo.email", "emails", "email", "MAIN"),
        ("primaryInfo.phone", "phones", "phone", "MOBILE"),
    ):
        if path not in config.contacts:
            continue
        items = [dict(i) for i in ((cur_info.get(list_key) or {}).get("items") or [])]
        primary = next((i for i in items if i.get("primary")), items[0] if items else None)
        new_value = value(path)
        if new_value is None:
            items = [i for i in items if i is not primary]
        elif primary is None:
            items.insert(0, {item_key: new_value, "tag": tag, "primary": True})
        elif primary.get(item_key) != new_value:
            primary[item_key] = new_value
            primary.pop("e164Phone", None)
        info[list_key] = {"items": [{k: v for k, v in i.items() if k != "id"} for i in items]}
    for path, key in (("info.company", "company"), ("info.jobTitle", "jobTitle")):
        if path in config.contacts:
            info[key] = value(path)
    return info


def review_content(content: Mapping[str, Any], config: SyncConfig) -> dict[str, Any]:
    """Wix ``content`` of a review from external content; moderation is separate.

    Title and body are always present (None clears them on update); a missing rating is left out (required).
    """
    out: dict[str, Any] = {}
    for path, ext in config.reviews.items():
        if path.startswith("content."):
            key = path.split(".", 1)[1]
            if content.get(ext) is not None or key != "rating":
                out[key] = content.get(ext)
    return out


def review_status(content: Mapping[str, Any], config: SyncConfig) -> str | None:
    ext = config.reviews.get("moderation.moderationStatus")
    return content.get(ext) if ext else None


def rating_value(content: Mapping[str, Any], config: SyncConfig) -> Any:
    ext = config.ratings.get("value")
    return content.get(ext) if ext else None
