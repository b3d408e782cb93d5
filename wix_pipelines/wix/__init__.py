"""The Wix REST client: transport (auth, retries, rate limit), paging, query, errors, models, webhooks.

A plain library: no Dagster, no imports from other wix_pipelines packages. See ``client.WixClient``.
"""

from .auth import ApiKeyAuth, OAuthAppAuth
from .client import (
    DEFAULT_BASE_URL,
    ContactsApi,
    ExtendedFieldsApi,
    RatingsApi,
    ReviewRequestsApi,
    ReviewsApi,
    WixClient,
)
from .errors import (
    FieldViolation,
    WixApiError,
    WixAuthenticationError,
    WixBadRequestError,
    WixConflictError,
    WixError,
    WixNotFoundError,
    WixPermissionError,
    WixPreconditionError,
    WixRateLimitError,
    WixServerError,
    WixTransportError,
)
from .models import (
    BulkResult,
    Contact,
    ContactInfo,
    DomainEvent,
    ExtendedField,
    Identity,
    Rating,
    RatingOwner,
    Review,
    ReviewRequest,
    WebhookEvent,
    WixModel,
)
from .paging import Page, iter_cursor_pages, iter_keyset_pages, iter_offset_pages
from .query import Filter, Query, Sort, format_timestamp
from .ratelimit import RateLimiter
from .transport import ApiResponse, RequestCounter, RequestStats, RetryPolicy
from .webhooks import WebhookVerificationError, load_public_key_pem, verify_and_parse_webhook

__all__ = [
    "DEFAULT_BASE_URL",
    "ApiKeyAuth",
    "ApiResponse",
    "BulkResult",
    "Contact",
    "ContactInfo",
    "ContactsApi",
    "DomainEvent",
    "ExtendedField",
    "ExtendedFieldsApi",
    "FieldViolation",
    "Filter",
    "Identity",
    "OAuthAppAuth",
    "Page",
    "Query",
    "RateLimiter",
    "Rating",
    "RatingOwner",
    "RatingsApi",
    "RequestCounter",
    "RequestStats",
    "RetryPolicy",
    "Review",
    "ReviewRequest",
    "ReviewRequestsApi",
    "ReviewsApi",
    "Sort",
    "WebhookEvent",
    "WebhookVerificationError",
    "WixApiError",
    "WixAuthenticationError",
    "WixBadRequestError",
    "WixClient",
    "WixConflictError",
    "WixError",
    "WixModel",
    "WixNotFoundError",
    "WixPermissionError",
    "WixPreconditionError",
    "WixRateLimitError",
    "WixServerError",
    "WixTransportError",
    "format_timestamp",
    "iter_cursor_pages",
    "iter_keyset_pages",
    "iter_offset_pages",
    "load_public_key_pem",
    "verify_and_parse_webhook",
]
