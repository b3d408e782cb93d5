"""Configuration of the Wix API emulator, and the project choices where Wix is silent (SPEC.md §9).

Everything the emulator decides without a Wix source lives here as a named constant, so a real site's answer
changes one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Fixed emulator identities. They are not secrets of any real site: every emulator instance uses them unless
# the caller overrides them, so tests and the demo can hard-code them.
DEFAULT_API_KEY = "emulator-api-key"
DEFAULT_SITE_ID = "emulator-site"
DEFAULT_APP_ID = "5e1a7c2b-0d4f-4a8e-9b3c-6f2d1e0a9b87"
DEFAULT_APP_SECRET = "emulator-app-secret"
DEFAULT_INSTANCE_ID = "8b3f2a91-4c6d-4e7f-a1b2-c3d4e5f60718"
DEFAULT_ACCOUNT_ID = "0c9e8d7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f"
# The Wix user that API-key requests act as (API keys belong to a Wix user, so webhooks name one).
API_KEY_WIX_USER_ID = "2a4c6e80-1b3d-4f57-9a0c-e1f2a3b4c5d6"

# Project choices (SPEC.md §9 and the [U] items it leaves open).
DUPLICATE_REVIEW_CODE = "DUPLICATE_REVIEW"
DUPLICATE_RATING_CODE = "DUPLICATE_RATING"
# Stale revision on reviews, ratings and review requests: Wix documents no code; contacts use
# CONTACT_ALREADY_CHANGED (SPEC.md §2.9), the others get this generic one.
REVISION_MISMATCH_CODE = "REVISION_MISMATCH"
REVIEW_REQUEST_NOT_CANCELED_CODE = "REVIEW_REQUEST_NOT_CANCELED"
RATE_LIMIT_MESSAGE = "Rate limit exceeded"
CONTACT_MERGED_SLUG = "merged"
# Ratings webhooks: Wix publishes no event type for them (SPEC.md §6); one constant, mirrored by the client.
RATING_EVENT_TYPE_PREFIX = "wix.ratings.v1.rating_"
RATING_ENTITY_FQDN = "wix.ratings.v1.rating"
# Header a test sends to act as another identity (a MEMBER, another APP...): a JSON object such as
# {"identityType": "MEMBER", "memberId": "..."}. Only the emulator reads it; Wix has no such header.
IDENTITY_OVERRIDE_HEADER = "x-emulator-identity"


@dataclass
class FaultConfig:
    """Random faults, drawn from an RNG seeded with `seed` so a run is repeatable."""

    rate_429: float = 0.0
    retry_after_s: float = 1.0
    rate_5xx: float = 0.0
    latency_ms: float = 0.0
    seed: int = 0


@dataclass
class EmulatorConfig:
    """What one emulator instance serves: seed sizes, credentials, moderation default, webhook target."""

    seed: int = 1
    contacts: int = 0
    reviews: int = 0
    ratings: int = 0
    review_requests: int = 0
    api_key: str = DEFAULT_API_KEY
    site_id: str = DEFAULT_SITE_ID
    app_id: str = DEFAULT_APP_ID
    app_secret: str = DEFAULT_APP_SECRET
    instance_id: str = DEFAULT_INSTANCE_ID
    token_ttl_s: int = 14400
    initial_moderation: str = "APPROVED"  # or "IN_MODERATION"
    webhook_url: str | None = None
    faults: FaultConfig = field(default_factory=FaultConfig)
    account_id: str = DEFAULT_ACCOUNT_ID

    def __post_init__(self) -> None:
        if self.initial_moderation not in ("APPROVED", "IN_MODERATION"):
            raise ValueError(f"initial_moderation must be APPROVED or IN_MODERATION, got {self.initial_moderation!r}")
        if isinstance(self.faults, dict):  # convenient for factories taking plain kwargs
            self.faults = FaultConfig(**self.faults)
