"""Pydantic models of the Wix REST payloads (SPEC.md §3-§7, webhook envelope §2.8).

Python attributes are snake_case; the wire names (``createdDate``, ``labelKeys``…) are their camelCase aliases
and both are accepted on input. Every model keeps unknown fields (``extra="allow"``, visible in
``model_extra`` and re-emitted by :meth:`WixModel.to_wire`): Wix adds fields over time and a new one must
never break a load. Bulk loaders do not build these per record; they land ``Page.items`` dicts. Models are for
single-record calls, the sync layer and tests.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, Self, TypeVar

import orjson
from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
)
from pydantic.alias_generators import to_camel

from .query import format_timestamp

__all__ = [
    "AccountInfo",
    "ActionEvent",
    "Address",
    "BulkActionMetadata",
    "BulkItemMetadata",
    "BulkItemResult",
    "BulkResult",
    "Contact",
    "ContactAddress",
    "ContactEmail",
    "ContactInfo",
    "ContactName",
    "ContactPhone",
    "CreatedEvent",
    "DeletedEvent",
    "DomainEvent",
    "ExtendedField",
    "Identity",
    "Image",
    "ModelT",
    "Rating",
    "RatingOwner",
    "Review",
    "ReviewAuthor",
    "ReviewContent",
    "ReviewMedia",
    "ReviewRequest",
    "UpdatedEvent",
    "Video",
    "WebhookEvent",
    "WixModel",
]

# Wire timestamps: parsed from ISO-8601 (with or without fraction), written back with milliseconds and Z.
WixDateTime = Annotated[datetime, PlainSerializer(format_timestamp, when_used="json")]
# int64 values arrive as strings (SPEC.md §2.1); accept a number too rather than failing a load.
Int64Str = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v)]


class WixModel(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        arbitrary_types_allowed=False,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict with wire names, unset fields left out (so a PATCH sends only what was
        given)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True)


ModelT = TypeVar("ModelT", bound=WixModel)
T = TypeVar("T")


class ItemList(WixModel, Generic[T]):
    """Wix wraps repeated contact fields as ``{"items": [...]}``."""

    items: list[T] = Field(default_factory=list)


# --- contacts (SPEC.md §3) ----------------------------------------------------------------------------------


class ContactName(WixModel):
    first: str | None = None
    last: str | None = None


class ContactEmail(WixModel):
    id: str | None = None
    tag: str | None = None
    email: str | None = None
    primary: bool | None = None


class ContactPhone(WixModel):
    id: str | None = None
    tag: str | None = None
    country_code: str | None = None
    phone: str | None = None
    e164_phone: str | None = None
    primary: bool | None = None


class StreetAddress(WixModel):
    number: str | None = None
    name: str | None = None
    apt: str | None = None


class Address(WixModel):
    address_line: str | None = None
    address_line2: str | None = Field(default=None, alias="addressLine2")
    street_address: StreetAddress | None = None
    city: str | None = None
    subdivision: str | None = None
    country: str | None = None
    postal_code: str | None = None
    formatted_address: str | None = None


class ContactAddress(WixModel):
    id: str | None = None
    tag: str | None = None
    address: Address | None = None


class LabelKeys(WixModel):
    items: list[str] = Field(default_factory=list)


class ExtendedFieldValues(WixModel):
    items: dict[str, Any] = Field(default_factory=dict)


class ContactInfo(WixModel):
    name: ContactName | None = None
    emails: ItemList[ContactEmail] | None = None
    phones: ItemList[ContactPhone] | None = None
    addresses: ItemList[ContactAddress] | None = None
    company: str | None = None
    job_title: str | None = None
    birthdate: date | None = None
    locale: str | None = None
    label_keys: LabelKeys | None = None
    extended_fields: ExtendedFieldValues | None = None
    picture: dict[str, Any] | None = None


class PrimaryInfo(WixModel):
    email: str | None = None
    phone: str | None = None


class PrimaryEmail(WixModel):
    email: str | None = None
    subscription_status: str | None = None
    deliverability_status: str | None = None


class PrimaryPhone(WixModel):
    country_code: str | None = None
    e164_phone: str | None = None
    formatted_phone: str | None = None
    subscription_status: str | None = None
    phone: str | None = None


class ContactSource(WixModel):
    source_type: str | None = None
    app_id: str | None = None


class LastActivity(WixModel):
    activity_date: WixDateTime | None = None
    activity_type: str | None = None


class Contact(WixModel):
    id: str | None = None
    revision: int | None = None
    source: ContactSource | None = None
    created_date: WixDateTime | None = None
    updated_date: WixDateTime | None = None
    last_activity: LastActivity | None = None
    primary_info: PrimaryInfo | None = None
    primary_email: PrimaryEmail | None = None
    primary_phone: PrimaryPhone | None = None
    picture: dict[str, Any] | None = None
    info: ContactInfo | None = None

    # Convenience read-outs of the nested ``info`` (empty, never None, so callers can iterate).
    @property
    def name(self) -> ContactName | None:
        return self.info.name if self.info else None

    @property
    def emails(self) -> list[ContactEmail]:
        return list(self.info.emails.items) if self.info and self.info.emails else []

    @property
    def phones(self) -> list[ContactPhone]:
        return list(self.info.phones.items) if self.info and self.info.phones else []

    @property
    def addresses(self) -> list[ContactAddress]:
        return list(self.info.addresses.items) if self.info and self.info.addresses else []

    @property
    def label_keys(self) -> list[str]:
        return list(self.info.label_keys.items) if self.info and self.info.label_keys else []

    @property
    def extended_fields(self) -> dict[str, Any]:
        return dict(self.info.extended_fields.items) if self.info and self.info.extended_fields else {}

    @property
    def email(self) -> str | None:
        """The primary email address, if any."""
        if self.primary_info and self.primary_info.email:
            return self.primary_info.email
        for item in self.emails:
            if item.primary:
                return item.email
        return self.emails[0].email if self.emails else None


class ExtendedField(WixModel):
    key: str | None = None
    namespace: str | None = None
    display_name: str | None = None
    data_type: str | None = None
    field_type: str | None = None
    description: str | None = None
    created_date: WixDateTime | None = None
    updated_date: WixDateTime | None = None
    # Set by ``ExtendedFieldsApi.find_or_create`` from the response's ``newField``; not part of the field
    # object.
    new_field: bool | None = Field(default=None, exclude=True)


# --- reviews (SPEC.md §5) -----------------------------------------------------------------------------------


class Image(WixModel):
    id: str | None = None
    url: str | None = None
    height: int | None = None
    width: int | None = None
    alt_text: str | None = None
    filename: str | None = None


class VideoResolution(WixModel):
    url: str | None = None
    height: int | None = None
    width: int | None = None
    poster: Image | None = None
    format: str | None = None


class Video(WixModel):
    id: str | None = None
    url: str | None = None
    resolutions: list[VideoResolution] = Field(default_factory=list)


class ReviewMedia(WixModel):
    image: Image | None = None
    video: Video | None = None


class ReviewContent(WixModel):
    title: str | None = None
    body: str | None = None
    media: list[ReviewMedia] = Field(default_factory=list)
    rating: int | None = None


class ReviewAuthor(WixModel):
    contact_id: str | None = None
    author_name: str | None = None


class ReviewReply(WixModel):
    message: str | None = None
    created_date: WixDateTime | None = None
    updated_date: WixDateTime | None = None


class Moderation(WixModel):
    moderation_status: str | None = None
    manually_changed: bool | None = None


class Origin(WixModel):
    type: str | None = None
    app_id: str | None = None


class Review(WixModel):
    id: str | None = None
    namespace: str | None = None
    entity_id: str | None = None
    author: ReviewAuthor | None = None
    content: ReviewContent | None = None
    created_date: WixDateTime | None = None
    updated_date: WixDateTime | None = None
    review_date: WixDateTime | None = None
    reply: ReviewReply | None = None
    found_helpful: int | None = None
    found_unhelpful: int | None = None
    helpfulness: int | None = None
    moderation: Moderation | None = None
    revision: Int64Str | None = None
    verified: bool | None = None
    origin: Origin | None = None
    relevance_score: float | None = None
    publish_count: int | None = None


# --- ratings (SPEC.md §6, §6.1) -----------------------------------------------------------------------------


class RatingOwner(WixModel):
    contact_id: str | None = None
    member_id: str | None = None
    anonymous_visitor_id: str | None = None


class Rating(WixModel):
    id: str | None = None
    revision: Int64Str | None = None
    namespace: str | None = None
    group: str | None = None
    entity_id: str | None = None
    attribute_name: str | None = None
    value: int | float | None = None
    # The Velo types say ``owner``, the project's seed sends ``ratingOwner`` (SPEC.md §6.1): read either,
    # write the seed's name.
    owner: RatingOwner | None = Field(
        default=None,
        validation_alias=AliasChoices("owner", "ratingOwner"),
        serialization_alias="ratingOwner",
    )
    created_date: WixDateTime | None = None
    updated_date: WixDateTime | None = None
    related_entity_ids: list[str] = Field(default_factory=list)


# --- review requests (SPEC.md §7) ---------------------------------------------------------------------------


class ReviewRequestItem(WixModel):
    catalog_item_id: str | None = None
    review_id: str | None = None


class ReviewRequest(WixModel):
    id: str | None = None
    revision: Int64Str | None = None
    created_date: WixDateTime | None = None
    updated_date: WixDateTime | None = None
    send_date: WixDateTime | None = None
    namespace: str | None = None
    order: dict[str, Any] | None = None
    items: list[ReviewRequestItem] = Field(default_factory=list)
    recipient: dict[str, Any] | None = None
    communication_channel: str | None = None
    status: str | None = None
    sent_options: dict[str, Any] | None = None
    failed_options: dict[str, Any] | None = None
    automation_activation_id: str | None = None
    requested_by: dict[str, Any] | None = None


# --- bulk results (SPEC.md §5.2, §7) ------------------------------------------------------------------------


class BulkItemMetadata(WixModel):
    id: str | None = None
    original_index: int | None = None
    success: bool | None = None
    error: dict[str, Any] | None = None


class BulkItemResult(WixModel):
    item_metadata: BulkItemMetadata | None = None
    # Review requests name the created record ``item``; reviews name it ``review`` (kept in ``model_extra``).
    item: dict[str, Any] | None = None

    @property
    def entity(self) -> dict[str, Any] | None:
        if self.item is not None:
            return self.item
        for value in (self.model_extra or {}).values():
            if isinstance(value, dict):
                return value
        return None


class BulkActionMetadata(WixModel):
    total_successes: int | None = None
    total_failures: int | None = None
    undetailed_failures: int | None = None


class BulkResult(WixModel):
    results: list[BulkItemResult] = Field(default_factory=list)
    bulk_action_metadata: BulkActionMetadata | None = None


# --- webhooks (SPEC.md §2.8) --------------------------------------------------------------------------------


def _json_string(value: Any) -> Any:
    """``identity``/``data`` (and maybe ``accountInfo``) travel as JSON *strings*; parse them, accept
    objects."""
    if isinstance(value, (str, bytes)):
        return orjson.loads(value)
    return value


class Identity(WixModel):
    identity_type: str | None = None
    app_id: str | None = None
    member_id: str | None = None
    wix_user_id: str | None = None
    anonymous_visitor_id: str | None = None


class AccountInfo(WixModel):
    account_id: str | None = None
    site_id: str | None = None
    parent_account_id: str | None = None


class CreatedEvent(WixModel):
    entity: dict[str, Any] = Field(default_factory=dict)


class UpdatedEvent(WixModel):
    current_entity: dict[str, Any] = Field(default_factory=dict)
    modified_fields: dict[str, Any] | None = None


class DeletedEvent(WixModel):
    deleted_entity: dict[str, Any] | None = None


class ActionEvent(WixModel):
    body: dict[str, Any] = Field(default_factory=dict)


EventKind = Literal["created", "updated", "deleted", "action"]

# entityFqdn -> model of its entity, for DomainEvent.entity_model().
_ENTITY_MODELS: dict[str, type[WixModel]] = {
    "wix.contacts.v4.contact": Contact,
    "wix.contacts.v4.extended_field": ExtendedField,
    "wix.reviews.v1.review": Review,
    "wix.reviews.v2.review_request": ReviewRequest,
    # Project choice (SPEC.md §6: Wix publishes no ratings event names); mirrors the emulator's constant.
    "wix.ratings.v1.rating": Rating,
}


class DomainEvent(WixModel):
    """The inner event (``data`` parsed): exactly one of the four body members is set."""

    id: str | None = None
    entity_fqdn: str | None = None
    slug: str | None = None
    entity_id: str | None = None
    event_time: WixDateTime | None = None
    triggered_by_anonymize_request: bool | None = None
    originated_from: str | None = None
    entity_event_sequence: Int64Str | None = None
    created_event: CreatedEvent | None = None
    updated_event: UpdatedEvent | None = None
    deleted_event: DeletedEvent | None = None
    action_event: ActionEvent | None = None

    @property
    def kind(self) -> EventKind | None:
        if self.created_event is not None:
            return "created"
        if self.updated_event is not None:
            return "updated"
        if self.deleted_event is not None:
            return "deleted"
        if self.action_event is not None:
            return "action"
        return None

    @property
    def entity(self) -> dict[str, Any] | None:
        """The entity JSON the event carries (action events: their body), or None (e.g. contact deleted)."""
        if self.created_event is not None:
            return self.created_event.entity
        if self.updated_event is not None:
            return self.updated_event.current_entity
        if self.deleted_event is not None:
            return self.deleted_event.deleted_entity
        if self.action_event is not None:
            return self.action_event.body
        return None

    def entity_model(self) -> WixModel | None:
        """The entity as its model (Contact, Review…) for CRUD events of known entity types."""
        model = _ENTITY_MODELS.get(self.entity_fqdn or "")
        entity = self.entity
        if model is None or entity is None or self.kind == "action":
            return None
        return model.model_validate(entity)


class WebhookEvent(WixModel):
    """The verified webhook: the envelope from the JWT's ``data`` claim, with ``identity``/``data`` parsed."""

    instance_id: str | None = None
    event_type: str | None = None
    identity: Identity | None = None
    data: DomainEvent
    account_info: AccountInfo | None = None
    # The JWT's own claims (iat, exp, iss, aud…), for audit; not part of the envelope.
    claims: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @field_validator("identity", "data", "account_info", mode="before")
    @classmethod
    def _parse_json_strings(cls, value: Any) -> Any:
        return _json_string(value)

    @classmethod
    def from_envelope(cls, envelope: Any, claims: dict[str, Any] | None = None) -> Self:
        parsed = _json_string(envelope)
        return cls.model_validate({**parsed, "claims": claims or {}})
