"""Models keep unknown fields and read the wire's quirks; errors carry status, code and request id."""

from __future__ import annotations

import orjson

from wix_pipelines.wix import (
    Rating,
    Review,
    ReviewRequest,
    WixApiError,
    WixBadRequestError,
    WixConflictError,
    WixRateLimitError,
    WixServerError,
)
from wix_pipelines.wix.errors import error_from_response
from wix_pipelines.wix.transport import parse_retry_after


def test_a_review_with_unknown_fields_parses_and_keeps_them() -> None:
    review = Review.model_validate(
        {
            "id": "r-1",
            "revision": 3,  # int64 should be a string; a number must not break the load
            "content": {
                "rating": 4,
                "media": [
                    {"image": {"url": "https://x/i.jpg", "focalPoint": [1, 2]}},
                    {"video": {"id": "v"}},
                ],
                "sentiment": "positive",
            },
            "moderation": {"moderationStatus": "APPROVED", "manuallyChanged": False},
            "foundHelpful": 3,
            "foundUnhelpful": 1,
            "helpfulness": 2,
            "createdDate": "2024-04-10T12:00:00Z",
            "aiSummary": {"text": "new in 2026"},
        }
    )
    assert review.revision == "3"
    assert review.content is not None and review.content.rating == 4
    assert review.content.media[0].image is not None and review.content.media[1].video is not None
    assert review.model_extra == {"aiSummary": {"text": "new in 2026"}}
    assert review.content.model_extra == {"sentiment": "positive"}
    wire = review.to_wire()
    assert wire["aiSummary"] == {"text": "new in 2026"}
    assert wire["content"]["media"][0]["image"]["focalPoint"] == [1, 2]
    assert wire["createdDate"] == "2024-04-10T12:00:00.000Z"


def test_a_rating_accepts_owner_or_rating_owner_and_writes_the_seed_shape() -> None:
    a = Rating.model_validate({"id": "1", "owner": {"contactId": "c"}, "value": 4})
    b = Rating.model_validate({"id": "2", "ratingOwner": {"contactId": "c"}, "value": 4})
    assert a.owner == b.owner and a.owner is not None and a.owner.contact_id == "c"
    assert a.to_wire()["ratingOwner"] == {"contactId": "c"} and "owner" not in a.to_wire()
    assert a.value == 4 and isinstance(a.value, int)


def test_review_request_parses_its_status_and_items() -> None:
    rr = ReviewRequest.model_validate(
        {
            "id": "x",
            "revision": "1",
            "items": [{"catalogItemId": "p", "reviewId": None}],
            "status": "SCHEDULED",
        }
    )
    assert rr.items[0].catalog_item_id == "p" and rr.status == "SCHEDULED"


def test_application_errors_are_typed_by_status_with_code_and_request_id() -> None:
    body = orjson.dumps(
        {
            "message": "Duplicate contact exists",
            "details": {
                "applicationError": {
                    "code": "DUPLICATE_CONTACT_EXISTS",
                    "description": "An existing contact already uses this email",
                    "data": {"duplicateContactId": "c-9"},
                }
            },
        }
    )
    err = error_from_response(409, body, request_id="req-1", method="POST", path="/contacts/v4/contacts")
    assert isinstance(err, WixConflictError)
    assert (err.status_code, err.code, err.request_id, err.duplicate_id) == (
        409,
        "DUPLICATE_CONTACT_EXISTS",
        "req-1",
        "c-9",
    )
    text = str(err)
    assert "POST /contacts/v4/contacts" in text and "409" in text and "DUPLICATE_CONTACT_EXISTS" in text
    assert "req-1" in text


def test_validation_violations_are_readable() -> None:
    body = orjson.dumps(
        {
            "message": "INVALID_ARGUMENT: info must not be empty",
            "details": {
                "validationError": {
                    "fieldViolations": [
                        {
                            "field": "info",
                            "description": "must not be empty",
                            "violatedRule": "REQUIRED_FIELD",
                        }
                    ]
                }
            },
        }
    )
    err = error_from_response(400, body, request_id=None, method="POST", path="/p")
    assert isinstance(err, WixBadRequestError)
    assert err.violations[0].field == "info"
    assert "info: must not be empty [REQUIRED_FIELD]" in str(err)


def test_gateway_errors_without_json_still_make_typed_errors() -> None:
    err = error_from_response(502, b"<html>Bad gateway</html>", request_id=None, method="GET", path="/x")
    assert isinstance(err, WixServerError) and err.code is None and "Bad gateway" in err.message
    err = error_from_response(418, b"", request_id="r", method="GET", path="/x")
    assert type(err) is WixApiError and err.message == "HTTP 418"
    err = error_from_response(429, b"{}", request_id="r", method="GET", path="/x", retry_after=2.0)
    assert isinstance(err, WixRateLimitError) and err.retry_after == 2.0


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
