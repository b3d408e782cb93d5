"""Deterministic generators of Wix-shaped records and API pages for warehouse tests and the bench.

Shapes follow shared/wix-api/SPEC.md §3.1 (contact), §5.1 (review), §6 (rating), §7 (review request).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
_FIRST = ["Dana", "Lior", "Noa", "Amit", "Maya", "Yoav", "Tamar", "Eitan", "Shira", "Omer"]
_LAST = ["Tester", "Cohen", "Levi", "Mizrahi", "Peretz", "Biton", "Friedman", "Katz", "Azulay", "Dahan"]
_STATUSES = ["NOT_SET", "SUBSCRIBED", "UNSUBSCRIBED", "PENDING", "NO_SUBSCRIPTION_STATUS"]


def iso(ts: datetime) -> str:
    """Wire format of SPEC §2.2: UTC, milliseconds, `Z`."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def contact(i: int, *, seed: int = 0, revision: int = 1, created: datetime | None = None) -> dict[str, Any]:
    """One contact of roughly 1.6 KB of JSON, the size the benchmark assumes."""
    rng = random.Random(seed * 1_000_003 + i)
    created = created or BASE_TIME + timedelta(seconds=37 * i, milliseconds=i % 1000)
    updated = created + timedelta(hours=revision - 1)
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    email = f"{first.lower()}.{last.lower()}.{i}@example.org"
    phone = f"555-01{i % 100:02d}-{i % 10000:04d}"
    status = rng.choice(_STATUSES)
    return {
        "id": str(uuid.UUID(int=(seed << 64) + i + 1, version=4)),
        "revision": revision,
        "source": {"sourceType": "WIX_APP", "appId": _uuid(rng)},
        "createdDate": iso(created),
        "updatedDate": iso(updated),
        "lastActivity": {"activityDate": iso(updated), "activityType": "CONTACT_CREATED"},
        "primaryInfo": {"email": email, "phone": phone},
        "primaryEmail": {"email": email, "subscriptionStatus": status, "deliverabilityStatus": "VALID"},
        "primaryPhone": {
            "countryCode": "US",
            "e164Phone": f"+1555{i % 10_000_000:07d}",
            "formattedPhone": f"+1 {phone}",
            "subscriptionStatus": "NOT_SET",
            "phone": phone,
        },
        "info": {
            "name": {"first": first, "last": last},
            "emails": {"items": [{"id": _uuid(rng), "tag": "MAIN", "email": email, "primary": True}]},
            "phones": {
                "items": [
                    {
                        "id": _uuid(rng),
                        "tag": "MOBILE",
                        "countryCode": "US",
                        "phone": phone,
                        "e164Phone": f"+1555{i % 10_000_000:07d}",
                        "primary": True,
                    }
                ]
            },
            "addresses": {
                "items": [
                    {
                        "id": _uuid(rng),
                        "tag": "HOME",
                        "address": {
                            "addressLine": f"{i % 300} Sample Rd",
                            "addressLine2": f"Unit {i % 40}",
                            "city": "Springfield",
                            "subdivision": "US-IL",
                            "country": "US",
                            "postalCode": f"{62700 + i % 99}",
                        },
                    }
                ]
            },
            "company": f"Acme Test Co {i % 50}",
            "jobTitle": "QA lead",
            "birthdate": f"19{60 + i % 40}-0{1 + i % 9}-1{i % 10}",
            "locale": "en-US",
            "labelKeys": {"items": ["custom.vip-customer", f"custom.cohort-{i % 7}"]},
            "extendedFields": {
                "items": {
                    "custom.externalcrmid": f"CRM-{i:06d}",
                    "emailSubscriptions.subscriptionStatus": status,
                    "emailSubscriptions.deliverabilityStatus": "VALID",
                    "emailSubscriptions.effectiveEmail": email,
                    "contacts.displayByFirstName": f"{first} {last}",
                    "contacts.displayByLastName": f"{last} {first}",
                }
            },
        },
    }


def review(i: int, *, seed: int = 0, revision: int = 1, contact_id: str | None = None) -> dict[str, Any]:
    rng = random.Random(seed * 7_000_003 + i)
    created = BASE_TIME + timedelta(minutes=11 * i)
    helpful, unhelpful = rng.randint(0, 9), rng.randint(0, 3)
    return {
        "id": str(uuid.UUID(int=(seed << 64) + (1 << 40) + i, version=4)),
        "namespace": "stores",
        "entityId": f"prod-{i % 97:04d}",
        "author": {"contactId": contact_id or contact(i, seed=seed)["id"], "authorName": f"Author {i}"},
        "content": {
            "title": f"Review {i}",
            "body": "Boils fast, lid is a bit stiff. " * (1 + i % 4),
            "rating": 1 + i % 5,
            "media": [{"image": {"id": f"img-{i}", "url": f"https://static.example.net/img-{i}.jpg"}}]
            if i % 3 == 0
            else [],
        },
        "createdDate": iso(created),
        "updatedDate": iso(created + timedelta(hours=revision - 1)),
        "reviewDate": iso(created),
        "foundHelpful": helpful,
        "foundUnhelpful": unhelpful,
        "helpfulness": helpful - unhelpful,
        "moderation": {"moderationStatus": "APPROVED", "manuallyChanged": False},
        "revision": str(revision),
        "verified": i % 2 == 0,
        "origin": {"type": "ORGANIC"},
        "publishCount": 1,
    }


def rating(i: int, *, seed: int = 0, owner_key: str = "owner") -> dict[str, Any]:
    created = BASE_TIME + timedelta(minutes=13 * i)
    return {
        "id": str(uuid.UUID(int=(seed << 64) + (2 << 40) + i, version=4)),
        "revision": "1",
        "namespace": "reviews",
        "group": "stores",
        "entityId": f"prod-{i % 97:04d}",
        "attributeName": "overall",
        "value": 1 + i % 5,
        owner_key: {"contactId": contact(i, seed=seed)["id"]},
        "createdDate": iso(created),
        "updatedDate": iso(created),
        "relatedEntityIds": [review(i, seed=seed)["id"]],
    }


def review_request(i: int, *, seed: int = 0, status: str = "SCHEDULED") -> dict[str, Any]:
    created = BASE_TIME + timedelta(minutes=17 * i)
    return {
        "id": str(uuid.UUID(int=(seed << 64) + (3 << 40) + i, version=4)),
        "revision": "1",
        "createdDate": iso(created),
        "updatedDate": iso(created),
        "sendDate": iso(created + timedelta(days=3)),
        "namespace": "stores",
        "order": {"id": str(uuid.UUID(int=(seed << 64) + (4 << 40) + i, version=4))},
        "items": [{"catalogItemId": f"prod-{i % 97:04d}", "reviewId": None}, {"catalogItemId": "prod-x"}],
        "recipient": {"contactId": contact(i, seed=seed)["id"]},
        "communicationChannel": "EMAIL",
        "status": status,
        "automationActivationId": None,
        "requestedBy": {"identityType": "APP", "appId": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"},
    }


# Key under which each API returns its records, and the paging metadata key (SPEC §2.7).
_PAGE_KEYS = {
    "contacts": ("contacts", "pagingMetadata"),
    "reviews": ("reviews", "metadata"),
    "ratings": ("ratings", "metadata"),
    "review_requests": ("reviewRequests", "pagingMetadata"),
}


def page(stream: str, records: Sequence[dict[str, Any]], *, offset: int = 0, total: int | None = None) -> bytes:
    """A response body as the API sends it, as raw bytes."""
    key, meta_key = _PAGE_KEYS[stream]
    meta: dict[str, Any] = {"count": len(records)}
    if stream == "contacts":
        meta |= {"offset": offset, "total": total if total is not None else offset + len(records)}
    else:
        meta |= {"cursors": {"next": None, "prev": None}}
    return orjson.dumps({key: list(records), meta_key: meta})


def contact_pages(n: int, *, page_size: int = 1000, seed: int = 0, revision: int = 1) -> Iterator[bytes]:
    for start in range(0, n, page_size):
        records = [contact(i, seed=seed, revision=revision) for i in range(start, min(n, start + page_size))]
        yield page("contacts", records, offset=start, total=n)
