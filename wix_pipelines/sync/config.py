"""The sync's configuration: field mappings, entity mapping, system of record and conflict policy.

Kept in a file (TOML or JSON) that pydantic validates once, so a typo in a field name fails at load with the
offending key instead of syncing half a record. Example (``sync.toml``)::

    system_of_record = "wix"            # or "external"; the first reconciliation deletes the other side's extras
    conflict_policy = "newest"          # or "system_of_record"

    [contacts]                          # Wix field path = external field name
    "primaryInfo.email" = "email"       # required: contacts are matched by email
    "info.name.first" = "firstName"
    "info.name.last" = "lastName"

    [entities]                          # Wix entityId = external productId (unlisted ids map to themselves)
    "prod-4f1c2d" = "SKU-1001"
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from wix_pipelines.external.contract import KINDS, Kind

Side = Literal["wix", "external"]

# The Wix fields each kind can carry, and the external field each maps to by default. Natural keys (contact
# email; review product + author; rating product + attribute + owner) are fixed by the sync, not mapped here.
CONTACT_FIELDS: dict[str, str] = {
    "primaryInfo.email": "email",
    "info.name.first": "firstName",
    "info.name.last": "lastName",
    "primaryInfo.phone": "phone",
    "info.company": "company",
    "info.jobTitle": "jobTitle",
}
REVIEW_FIELDS: dict[str, str] = {
    "content.title": "title",
    "content.body": "body",
    "content.rating": "rating",
    "moderation.moderationStatus": "status",
}
RATING_FIELDS: dict[str, str] = {"value": "value"}
SUPPORTED: dict[str, dict[str, str]] = {"contacts": CONTACT_FIELDS, "reviews": REVIEW_FIELDS, "ratings": RATING_FIELDS}
# External field names the sync itself writes for the natural keys: a mapping may not reuse them.
RESERVED_EXTERNAL: dict[str, set[str]] = {
    "contacts": set(),
    "reviews": {"productId", "authorId"},
    "ratings": {"productId", "attribute", "ownerId"},
}


class SyncConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contacts: dict[str, str] = Field(default_factory=lambda: dict(CONTACT_FIELDS))
    reviews: dict[str, str] = Field(default_factory=lambda: dict(REVIEW_FIELDS))
    ratings: dict[str, str] = Field(default_factory=lambda: dict(RATING_FIELDS))
    entities: dict[str, str] = Field(default_factory=dict, description="Wix entityId -> external productId")
    kinds: tuple[Kind, ...] = KINDS
    reviews_namespace: str = "stores"
    ratings_namespace: str = "reviews"
    ratings_group: str = "stores"
    system_of_record: Side | None = None
    conflict_policy: Literal["newest", "system_of_record"] = "newest"
    external_id_field: str = Field(default="externalCrmId", description="Wix extended field holding the external id")
    sync_app_id: str | None = Field(default=None, description="Wix app id the sync writes as: its webhooks are echoes")
    external_sync_actor: str | None = Field(default=None, description="actor name of the sync's own external writes")

    @field_validator("contacts", "reviews", "ratings")
    @classmethod
    def _known_fields(cls, mapping: dict[str, str], info: object) -> dict[str, str]:
        kind = getattr(info, "field_name", "")
        supported = SUPPORTED[kind]
        unknown = sorted(set(mapping) - set(supported))
        if unknown:
            raise ValueError(f"{kind}: unsupported Wix field(s) {unknown}; supported: {sorted(supported)}")
        names = [n for n in mapping.values()]
        if any(not n or not n.strip() for n in names):
            raise ValueError(f"{kind}: external field names must be non-empty")
        if len(set(names)) != len(names):
            raise ValueError(f"{kind}: two Wix fields map to the same external field")
        clash = set(names) & RESERVED_EXTERNAL[kind]
        if clash:
            raise ValueError(f"{kind}: {sorted(clash)} are natural-key fields the sync writes itself")
        return mapping

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.contacts.get("primaryInfo.email") != "email":
            raise ValueError('contacts must map "primaryInfo.email" = "email": contacts are matched by email')
        if self.conflict_policy == "system_of_record" and self.system_of_record is None:
            raise ValueError('conflict_policy "system_of_record" needs system_of_record = "wix" or "external"')
        reverse = list(self.entities.values())
        if len(set(reverse)) != len(reverse):
            raise ValueError("entities: two Wix entities map to the same external product")
        return self

    def field_map(self, kind: Kind) -> dict[str, str]:
        return {"contacts": self.contacts, "reviews": self.reviews, "ratings": self.ratings}[kind]

    def to_external_entity(self, wix_entity_id: str) -> str:
        return self.entities.get(wix_entity_id, wix_entity_id)

    def to_wix_entity(self, external_entity_id: str) -> str:
        for wix_id, ext_id in self.entities.items():
            if ext_id == external_entity_id:
                return wix_id
        return external_entity_id


def load_sync_config(path: str | Path | None) -> SyncConfig:
    """Read and validate a TOML or JSON config file; None gives the defaults."""
    if path is None:
        return SyncConfig()
    file = Path(path)
    text = file.read_text()
    data = json.loads(text) if file.suffix == ".json" else tomllib.loads(text)
    return SyncConfig.model_validate(data)
