"""Deterministic, realistic seed data, also usable without a server (benchmarks of 1M rows).

Each stream has its own RNG derived from the seed, so the contacts of seed 1 are the same whatever the number
of reviews. Generators yield REST-shaped dicts exactly as the API serves them.

What the data looks like, and why:
* contacts (~1.6 KB each): names, 1-2 emails, phones, addresses, company, labels, extended fields including the
  system `emailSubscriptions.*` ones; subscription statuses mixed (SUBSCRIBED / UNSUBSCRIBED / NOT_SET /
  PENDING), and some contacts subscribed through only one of `primaryEmail.subscriptionStatus` and the
  `emailSubscriptions.subscriptionStatus` field — real sites disagree like that.
* bulk imports: many contacts share one `createdDate` millisecond (more than 1000 in one group once there are
  5000 contacts), the case that breaks naive `createdDate > watermark` paging. Dates span ~2 years; about a
  third of the contacts were updated later.
* reviews: J-shaped ratings (many 5s, some 1s), images and videos, helpful/unhelpful votes (some net negative),
  moderation mix, replies; at most one review per (product, contact).
* ratings: "overall", "comfort", "value for money"; one per attribute per owner per product.
* orders with 0..8 priced items; review requests in every status.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from wix_pipelines.emulator.config import API_KEY_WIX_USER_ID, DEFAULT_APP_ID
from wix_pipelines.emulator.timeutil import ms_to_iso, parse_iso_ms

if TYPE_CHECKING:
    from wix_pipelines.emulator.state import EmulatorState

Record = dict[str, Any]

SEED_START_MS = parse_iso_ms("2023-06-01T00:00:00Z")
SEED_END_MS = parse_iso_ms("2025-06-01T00:00:00Z")
SPAN_MS = SEED_END_MS - SEED_START_MS
NAMESPACE = "stores"
RATINGS_NAMESPACE = "reviews"
RATINGS_GROUP = "stores"
RATING_ATTRIBUTES = ("overall", "comfort", "value for money")

FIRST = (
    "Dana", "Noa", "Liam", "Maya", "Ethan", "Olivia", "Ava", "Lucas", "Mia", "Amir", "Yael", "Sofia",
    "Leo", "Emma", "Jonah", "Zoe", "Omar", "Lena", "Ravi", "Priya", "Chen", "Mei", "Hiro", "Yuki",
    "Carlos", "Lucia", "Mateo", "Elena", "Jan", "Anna", "Tom", "Sara", "Ben", "Ella", "Adam", "Nora",
    "Sam", "Lily", "Max", "Ruth", "Ari", "Tamar", "Igor", "Olga", "Kofi", "Ama", "Ngozi", "Tariq",
    "Fatima", "Ivan", "Marta", "Pedro", "Ines", "Hugo", "Chloe", "Felix", "Clara", "Owen", "Ruby", "Iris",
)  # fmt: skip
LAST = (
    "Tester", "Cohen", "Levi", "Smith", "Jones", "Brown", "Garcia", "Miller", "Davis", "Martin", "Lopez",
    "Wilson", "Anderson", "Thomas", "Moore", "Jackson", "White", "Harris", "Clark", "Lewis", "Walker",
    "Young", "King", "Wright", "Hill", "Green", "Baker", "Adams", "Nelson", "Carter", "Mitchell", "Perez",
    "Roberts", "Turner", "Phillips", "Campbell", "Parker", "Evans", "Edwards", "Collins", "Stewart",
    "Morris", "Rogers", "Reed", "Cook", "Morgan", "Bell", "Murphy", "Bailey", "Rivera", "Cooper",
    "Richardson", "Cox", "Howard", "Ward", "Torres", "Peterson", "Gray", "Ramirez",
)  # fmt: skip
COMPANIES = (
    "Acme Test Co", "Globex", "Initech", "Umbrella Goods", "Stark Supplies", "Wayne Retail", "Hooli",
    "Vandelay Imports", "Soylent Foods", "Tyrell Home", "Cyberdyne Outdoor", "Wonka Sweets",
    "Gringotts Finance", "Oceanic Travel",
)  # fmt: skip
JOBS = (
    "QA lead",
    "Buyer",
    "Store manager",
    "Designer",
    "Engineer",
    "Teacher",
    "Nurse",
    "Owner",
    "Analyst",
    "Chef",
)
CITIES = (
    ("Springfield", "US-IL", "US", "62701", "US"), ("Austin", "US-TX", "US", "73301", "US"),
    ("Toronto", "CA-ON", "CA", "M5H 2N2", "CA"), ("London", "GB-ENG", "GB", "SW1A 1AA", "GB"),
    ("Berlin", "DE-BE", "DE", "10115", "DE"), ("Paris", "FR-IDF", "FR", "75001", "FR"),
    ("Tel Aviv", "IL-TA", "IL", "6100000", "IL"), ("Sydney", "AU-NSW", "AU", "2000", "AU"),
    ("Madrid", "ES-MD", "ES", "28001", "ES"), ("Amsterdam", "NL-NH", "NL", "1011", "NL"),
)  # fmt: skip
STREETS = ("Sample Rd", "Main St", "Oak Ave", "Harbor Way", "Elm St", "Market St", "Station Rd", "Park Lane")
DOMAINS = ("example.org", "example.com", "example.net", "mail.example", "inbox.example")
LABELS = (
    "custom.vip-customer",
    "custom.newsletter",
    "custom.wholesale",
    "custom.returning",
    "custom.high-value",
)
ORGANIC_SOURCES = ("WIX_STORES", "WIX_FORMS", "ADMIN", "WIX_SITE_MEMBERS")
LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "he-IL", "es-ES", "nl-NL", "en-AU")
TIERS = ("bronze", "silver", "gold", "platinum")
STORES = ("downtown", "mall", "online", "airport")
SUBSCRIPTION = (("SUBSCRIBED", 35), ("UNSUBSCRIBED", 15), ("NOT_SET", 40), ("PENDING", 10))
DELIVERABILITY = (("VALID", 80), ("NOT_SET", 12), ("BOUNCED", 5), ("SPAM_COMPLAINT", 2), ("INACTIVE", 1))
RATING_WEIGHTS = ((5, 55), (4, 20), (3, 8), (2, 5), (1, 12))  # J-shaped, as review sites are
MODERATION = (("APPROVED", 80), ("IN_MODERATION", 12), ("REJECTED", 8))
RR_STATUS = (
    ("SENT", 45),
    ("SCHEDULED", 28),
    ("CANCELED", 12),
    ("FAILED", 12),
    ("UNKNOWN_REVIEW_REQUEST_STATUS", 3),
)
PRODUCT_WORDS = (
    "Kettle",
    "Mug",
    "Lamp",
    "Chair",
    "Backpack",
    "Sneaker",
    "Jacket",
    "Blender",
    "Desk",
    "Pillow",
)
ADJECTIVES = ("Classic", "Eco", "Pro", "Mini", "Deluxe", "Urban", "Nordic", "Retro", "Smart", "Travel")

CUSTOM_FIELDS = (
    ("custom.loyalty-tier", "Loyalty Tier", "TEXT"),
    ("custom.lifetime-value", "Lifetime Value", "NUMBER"),
    ("custom.customer-since", "Customer Since", "DATE"),
    ("custom.preferred-store", "Preferred Store", "TEXT"),
)
SYSTEM_FIELDS = (
    ("emailSubscriptions.subscriptionStatus", "Email subscription status", "TEXT"),
    ("emailSubscriptions.deliverabilityStatus", "Email deliverability status", "TEXT"),
    ("emailSubscriptions.effectiveEmail", "Email used for subscriptions", "TEXT"),
)

TITLES = {
    5: ("Love it", "Perfect", "Exceeded expectations", "Best purchase this year", "Five stars"),
    4: ("Very good", "Solid choice", "Happy with it", "Almost perfect"),
    3: ("It's okay", "Average", "Does the job", "Mixed feelings"),
    2: ("Disappointing", "Not great", "Expected more"),
    1: ("Broke after a week", "Terrible", "Do not buy", "Waste of money"),
}
BODIES = {
    5: ("Works exactly as described and arrived early.", "Great quality, I bought a second one for a friend.",
        "Beautiful finish and very sturdy. Highly recommended."),
    4: ("Good value for the price; the lid is a bit stiff.", "Nice product, shipping took a while.",
        "Does what it should. Colour slightly different from the photos."),
    3: ("Fine for everyday use, nothing special.", "Quality is acceptable but the instructions were confusing."),
    2: ("Smaller than expected and feels cheap.", "Stopped working properly after a month."),
    1: ("Arrived damaged and support never answered.", "Completely stopped working after a few days."),
}  # fmt: skip


_CUMULATIVE: dict[int, tuple[list[Any], list[float], float]] = {}


def _weighted(rng: random.Random, table: Sequence[tuple[Any, int]]) -> Any:
    # Hot path of seeding (millions of calls): cumulative weights are computed once per table.
    prepared = _CUMULATIVE.get(id(table))
    if prepared is None:
        values = [v for v, _ in table]
        cumulative = list(itertools.accumulate(float(w) for _, w in table))
        prepared = _CUMULATIVE[id(table)] = (values, cumulative, cumulative[-1])
    values, cumulative, total = prepared
    return values[bisect.bisect_right(cumulative, rng.random() * total)]


def _choice(rng: random.Random, seq: Sequence[Any]) -> Any:
    return seq[int(rng.random() * len(seq))]


def _int(rng: random.Random, low: int, high: int) -> int:
    """randint without its argument checks (3x faster; seeding calls it millions of times)."""
    return low + int(rng.random() * (high - low + 1))


def _below(rng: random.Random, n: int) -> int:
    return int(rng.random() * n)


def _guid(rng: random.Random) -> str:
    """A version-4 GUID from the seeded RNG (uuid.UUID() is 3x slower and this runs ~1M times)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def _rng(seed: int, stream: str) -> random.Random:
    # Strings hash deterministically for random.Random (it uses SHA-512 on str seeds), unlike hash().
    return random.Random(f"{seed}:{stream}")


# --------------------------------------------------------------------------------------------- catalog


def seed_products(seed: int, n: int) -> list[Record]:
    """A product catalog: ids, names and prices (reviews and ratings point at these ids)."""
    rng = _rng(seed, "products")
    return [
        {
            "id": _guid(rng),
            "name": f"{_choice(rng, ADJECTIVES)} {_choice(rng, PRODUCT_WORDS)} {i + 1}",
            "price": round(rng.lognormvariate(3.3, 0.8), 2),
        }
        for i in range(n)
    ]


def product_count(reviews: int, ratings: int, review_requests: int) -> int:
    return max(10, min(2000, max(reviews, ratings // 2, review_requests) // 25 + 10))


# -------------------------------------------------------------------------------------------- contacts


def contact_created_dates(seed: int, n: int) -> list[int]:
    """Creation times (epoch ms): bulk-import groups sharing one millisecond, the rest spread over 2 years."""
    rng = _rng(seed, "contact-dates")
    big = 1100 + n // 100 if n >= 5000 else max(2, n // 5) if n >= 4 else 0
    groups = [big] + ([max(2, n // 100)] * 3 if n >= 200 else [])
    times: list[int] = []
    for size in groups:
        size = min(size, n - len(times))
        at = SEED_START_MS + _below(rng, SPAN_MS)
        times.extend([at] * size)
    while len(times) < n:
        times.append(SEED_START_MS + _below(rng, SPAN_MS))
    times.sort()
    return times


def _phone(rng: random.Random, country: str) -> str:
    if country in ("US", "CA"):
        return f"{_int(rng, 201, 989)}-{_int(rng, 200, 999)}-{_int(rng, 1000, 9999)}"
    return f"0{_int(rng, 10, 99)} {_int(rng, 100, 999)} {_int(rng, 1000, 9999)}"


_CALLING = {
    "US": "1",
    "CA": "1",
    "GB": "44",
    "DE": "49",
    "FR": "33",
    "IL": "972",
    "AU": "61",
    "ES": "34",
    "NL": "31",
}


def _e164(phone: str, country: str) -> str:
    return "+" + _CALLING[country] + "".join(ch for ch in phone if ch.isdigit()).lstrip("0")


def iter_seed_contacts(seed: int, n: int) -> Iterator[Record]:
    """`n` contacts in createdDate order, REST-shaped, deterministic from `seed`."""
    rng = _rng(seed, "contacts")
    created_times = contact_created_dates(seed, n)
    for i, created_ms in enumerate(created_times):
        # The list is sorted, so a bulk import is a run of equal neighbours.
        imported = (i > 0 and created_times[i - 1] == created_ms) or (i + 1 < n and created_times[i + 1] == created_ms)
        yield _contact(rng, i, created_ms, imported)


def _contact(rng: random.Random, index: int, created_ms: int, imported: bool) -> Record:
    first, last = _choice(rng, FIRST), _choice(rng, LAST)
    city, subdivision, country, postal, phone_country = _choice(rng, CITIES)
    created = ms_to_iso(created_ms)
    updated_ms = created_ms
    revision = 1
    if rng.random() < 0.33:
        updated_ms = min(SEED_END_MS + 86_400_000, created_ms + _int(rng, 3_600_000, 200 * 86_400_000))
        revision = _int(rng, 2, 6)
    info: Record = {"name": {"first": first, "last": last}}
    emails: list[Record] = []
    has_email = rng.random() < 0.95
    if has_email:
        domain = _choice(rng, DOMAINS)
        emails.append(
            {
                "id": _guid(rng),
                "tag": "MAIN",
                "email": f"{first}.{last}.{index}@{domain}".lower(),
                "primary": True,
            }
        )
        if rng.random() < 0.3:
            emails.append(
                {
                    "id": _guid(rng),
                    "tag": "WORK",
                    "email": f"{first[0]}{last}{index}@work.example".lower(),
                    "primary": False,
                }
            )
        info["emails"] = {"items": emails}
    phones: list[Record] = []
    if rng.random() < 0.8 or not has_email:
        number = _phone(rng, phone_country)
        phones.append(
            {
                "id": _guid(rng),
                "tag": "MOBILE",
                "countryCode": phone_country,
                "phone": number,
                "e164Phone": _e164(number, phone_country),
                "primary": True,
            }
        )
        info["phones"] = {"items": phones}
    addresses = []
    for tag in ("HOME", "SHIPPING")[: _choice(rng, (1, 1, 2))]:
        street = _choice(rng, STREETS)
        number = str(_int(rng, 1, 999))
        addresses.append(
            {
                "id": _guid(rng),
                "tag": tag,
                "address": {
                    "streetAddress": {"number": number, "name": street},
                    "addressLine2": f"Unit {_int(rng, 1, 40)}" if rng.random() < 0.3 else None,
                    "city": city,
                    "subdivision": subdivision,
                    "country": country,
                    "postalCode": postal,
                    "formattedAddress": f"{number} {street}, {city} {postal}, {country}",
                },
            }
        )
        if addresses[-1]["address"]["addressLine2"] is None:
            del addresses[-1]["address"]["addressLine2"]
    info["addresses"] = {"items": addresses}
    info["company"] = _choice(rng, COMPANIES)
    info["jobTitle"] = _choice(rng, JOBS)
    if rng.random() < 0.6:
        info["birthdate"] = f"{_int(rng, 1950, 2005)}-{_int(rng, 1, 12):02d}-{_int(rng, 1, 28):02d}"
    info["locale"] = _choice(rng, LOCALES)
    labels = [label for label in LABELS if rng.random() < 0.25]
    if labels:
        info["labelKeys"] = {"items": labels}
    ext: Record = {
        "custom.loyalty-tier": _choice(rng, TIERS),
        "custom.lifetime-value": round(rng.lognormvariate(5, 1), 2),
        "custom.customer-since": created[:10],
    }
    if rng.random() < 0.5:
        ext["custom.preferred-store"] = _choice(rng, STORES)
    record: Record = {
        "id": _guid(rng),
        "revision": revision,
        "source": {"sourceType": "IMPORT" if imported else _choice(rng, ORGANIC_SOURCES)},
        "createdDate": created,
        "updatedDate": ms_to_iso(updated_ms),
        "lastActivity": {
            "activityDate": ms_to_iso(updated_ms),
            "activityType": "CONTACT_CREATED" if revision == 1 else "GENERAL",
        },
        "primaryInfo": {},
        "info": info,
    }
    if emails:
        status = _weighted(rng, SUBSCRIPTION)
        # Some sites have the two subscription signals out of step; consumers must look at both.
        ext_status = status
        if rng.random() < 0.08:
            status, ext_status = ("SUBSCRIBED", "NOT_SET") if rng.random() < 0.5 else ("NOT_SET", "SUBSCRIBED")
        deliverability = _weighted(rng, DELIVERABILITY)
        record["primaryInfo"]["email"] = emails[0]["email"]
        record["primaryEmail"] = {
            "email": emails[0]["email"],
            "subscriptionStatus": status,
            "deliverabilityStatus": deliverability,
        }
        ext["emailSubscriptions.subscriptionStatus"] = ext_status
        ext["emailSubscriptions.deliverabilityStatus"] = deliverability
        ext["emailSubscriptions.effectiveEmail"] = emails[0]["email"]
    if phones:
        p = phones[0]
        record["primaryInfo"]["phone"] = p["phone"]
        record["primaryPhone"] = {
            "countryCode": p["countryCode"],
            "e164Phone": p["e164Phone"],
            "formattedPhone": f"+{_CALLING[p['countryCode']]} {p['phone']}",
            "subscriptionStatus": _weighted(rng, SUBSCRIPTION[1:]),
            "phone": p["phone"],
        }
    info["extendedFields"] = {"items": ext}
    return record


def seed_extended_fields() -> list[Record]:
    created = ms_to_iso(SEED_START_MS)
    fields = [
        {
            "namespace": "emailSubscriptions",
            "key": key,
            "displayName": name,
            "dataType": dtype,
            "fieldType": "SYSTEM",
            "description": name,
            "createdDate": created,
            "updatedDate": created,
        }
        for key, name, dtype in SYSTEM_FIELDS
    ]
    fields += [
        {
            "namespace": "custom",
            "key": key,
            "displayName": name,
            "dataType": dtype,
            "fieldType": "USER_DEFINED",
            "createdDate": created,
            "updatedDate": created,
        }
        for key, name, dtype in CUSTOM_FIELDS
    ]
    for field in fields:
        field["id"] = field["key"]  # collections are keyed by `id`; extended fields are addressed by key
    return fields


# --------------------------------------------------------------------------------------------- reviews


def _seed_time(rng: random.Random) -> int:
    return SEED_START_MS + _below(rng, SPAN_MS)


def _unique_pairs(rng: random.Random, n: int, n_a: int, n_b: int) -> Iterator[tuple[int, int]]:
    """Up to `n` distinct (a, b) index pairs, random, without materializing the full product."""
    total = n_a * n_b
    n = min(n, total)
    if n == 0:
        return
    if n * 2 > total:  # dense: sample from the full space
        for code in rng.sample(range(total), n):
            yield divmod(code, n_b)
        return
    seen: set[int] = set()
    while len(seen) < n:
        code = _below(rng, total)
        if code not in seen:
            seen.add(code)
            yield divmod(code, n_b)


def _media(rng: random.Random, review_index: int) -> list[Record]:
    media: list[Record] = []
    if rng.random() < 0.18:
        for k in range(_int(rng, 1, 4)):
            media.append(
                {
                    "image": {
                        "id": f"img-{review_index}-{k}",
                        "url": f"https://static.example.net/reviews/{review_index}-{k}.jpg",
                        "height": 800,
                        "width": 600,
                        "altText": "customer photo",
                        "filename": f"{review_index}-{k}.jpg",
                    }
                }
            )
    if rng.random() < 0.06:
        for k in range(_int(rng, 1, 2)):
            url = f"https://video.example.net/reviews/{review_index}-{k}.mp4"
            poster = {
                "id": f"poster-{review_index}-{k}",
                "url": url.replace(".mp4", ".jpg"),
                "height": 720,
                "width": 1280,
            }
            media.append(
                {
                    "video": {
                        "id": f"vid-{review_index}-{k}",
                        "url": url,
                        "resolutions": [{"url": url, "height": 720, "width": 1280, "poster": poster, "format": "mp4"}],
                    }
                }
            )
    return media


def iter_seed_reviews(
    seed: int,
    n: int,
    contact_ids: Sequence[str],
    product_ids: Sequence[str],
    author_names: Sequence[str] | None = None,
) -> Iterator[Record]:
    """Up to `n` reviews (fewer if contacts x products is smaller), one per (product, contact)."""
    rng = _rng(seed, "reviews")
    if not contact_ids or not product_ids:
        return
    batch_at = _seed_time(rng)
    batch = min(n // 10, 500)  # one imported batch sharing a createdDate: ties for cursor paging
    for index, (pi, ci) in enumerate(_unique_pairs(rng, n, len(product_ids), len(contact_ids))):
        rating = _weighted(rng, RATING_WEIGHTS)
        created_ms = batch_at if index < batch else _seed_time(rng)
        created = ms_to_iso(created_ms)
        helpful = int(rng.paretovariate(1.5)) - 1 if rng.random() < 0.5 else 0
        unhelpful = int(rng.paretovariate(2.0)) - 1 if rng.random() < 0.3 else 0
        if rating <= 2 and rng.random() < 0.3:
            unhelpful += _int(rng, 1, 5)  # harsh reviews attract downvotes: some net-negative helpfulness
        status = _weighted(rng, MODERATION)
        media = _media(rng, index)
        body = _choice(rng, BODIES[rating])
        record: Record = {
            "id": _guid(rng),
            "namespace": NAMESPACE,
            "entityId": product_ids[pi],
            "author": {
                "contactId": contact_ids[ci],
                "authorName": author_names[ci] if author_names else f"{_choice(rng, FIRST)} {_choice(rng, LAST)[0]}.",
            },
            "content": {"title": _choice(rng, TITLES[rating]), "body": body, "media": media, "rating": rating},
            "createdDate": created,
            "updatedDate": created,
            "reviewDate": created,
            "foundHelpful": helpful,
            "foundUnhelpful": unhelpful,
            "helpfulness": helpful - unhelpful,
            "moderation": {
                "moderationStatus": status,
                "manuallyChanged": status == "REJECTED" or rng.random() < 0.05,
            },
            "revision": "1",
            "verified": rng.random() < 0.6,
            "origin": {"type": "ORGANIC"} if rng.random() < 0.9 else {"type": "APP", "appId": DEFAULT_APP_ID},
            "publishCount": 1 if status == "APPROVED" else 0,
            "relevanceScore": round(helpful - unhelpful + len(body) / 500 + len(media) * 0.5, 3),
        }
        if rng.random() < 0.1:
            reply_ms = min(created_ms + _int(rng, 3_600_000, 20 * 86_400_000), SEED_END_MS + 86_400_000)
            record["reply"] = {
                "message": "Thank you for your feedback!"
                if rating >= 4
                else "Sorry to hear that; we've contacted you.",
                "createdDate": ms_to_iso(reply_ms),
                "updatedDate": ms_to_iso(reply_ms),
            }
            record["updatedDate"] = ms_to_iso(reply_ms)
            record["revision"] = "2"
        yield record


def iter_seed_ratings(seed: int, n: int, contact_ids: Sequence[str], product_ids: Sequence[str]) -> Iterator[Record]:
    """Up to `n` ratings: per (owner, product) an "overall" rating and sometimes the other attributes."""
    rng = _rng(seed, "ratings")
    if not contact_ids or not product_ids:
        return
    made = 0
    for pi, ci in _unique_pairs(rng, n, len(product_ids), len(contact_ids)):
        attributes = [a for k, a in enumerate(RATING_ATTRIBUTES) if k == 0 or rng.random() < 0.5]
        base = _weighted(rng, RATING_WEIGHTS)
        for attribute in attributes:
            if made >= n:
                return
            value = base if attribute == "overall" else max(1, min(5, base + _choice(rng, (-1, 0, 0, 0, 1))))
            created = ms_to_iso(_seed_time(rng))
            yield {
                "id": _guid(rng),
                "revision": "1",
                "namespace": RATINGS_NAMESPACE,
                "group": RATINGS_GROUP,
                "entityId": product_ids[pi],
                "attributeName": attribute,
                "value": value,
                "owner": {"contactId": contact_ids[ci]},
                "createdDate": created,
                "updatedDate": created,
                "relatedEntityIds": [],
            }
            made += 1


# ------------------------------------------------------------------------------- orders and requests


def iter_seed_orders(seed: int, n: int, products: Sequence[Record]) -> Iterator[Record]:
    """Orders with 0..8 priced items (an empty order exists to exercise ORDER_IS_EMPTY)."""
    rng = _rng(seed, "orders")
    for i in range(n):
        count = 0 if i == 0 or rng.random() < 0.04 else _int(rng, 1, 8)
        chosen = rng.sample(list(products), min(count, len(products))) if products else []
        yield {
            "id": _guid(rng),
            "number": str(10001 + i),
            "createdDate": ms_to_iso(_seed_time(rng)),
            "items": [
                {
                    "catalogItemId": p["id"],
                    "name": p["name"],
                    "quantity": _int(rng, 1, 3),
                    "price": p["price"],
                }
                for p in chosen
            ],
        }


def top_items(order: Record, limit: int = 5) -> list[str]:
    """The `limit` most expensive items of an order (Create Review Request with order only)."""
    items = sorted(order.get("items") or [], key=lambda i: (-float(i.get("price") or 0), i["catalogItemId"]))
    return [i["catalogItemId"] for i in items[:limit]]


def iter_seed_review_requests(
    seed: int, n: int, orders: Sequence[Record], contact_ids: Sequence[str], app_id: str = DEFAULT_APP_ID
) -> Iterator[Record]:
    rng = _rng(seed, "review-requests")
    usable = [o for o in orders if o.get("items")]
    if not usable or not contact_ids:
        return
    for i in range(n):
        order = usable[i % len(usable)]
        status = _weighted(rng, RR_STATUS)
        created_ms = _seed_time(rng)
        send_ms = created_ms + 3 * 86_400_000
        requested_by = (
            {"identityType": "APP", "appId": app_id}
            if rng.random() < 0.7
            else {"identityType": "WIX_USER", "wixUserId": API_KEY_WIX_USER_ID}
        )
        record: Record = {
            "id": _guid(rng),
            "revision": "1" if status == "SCHEDULED" else "2",
            "createdDate": ms_to_iso(created_ms),
            "updatedDate": ms_to_iso(send_ms if status in ("SENT", "FAILED") else created_ms),
            "sendDate": ms_to_iso(send_ms),
            "namespace": NAMESPACE,
            "order": {"id": order["id"]},
            "items": [{"catalogItemId": item_id} for item_id in top_items(order)],
            "recipient": {"contactId": contact_ids[_below(rng, len(contact_ids))]},
            "communicationChannel": "EMAIL",
            "status": status,
            "requestedBy": requested_by,
        }
        if status == "SENT":
            record["sentOptions"] = {"opened": rng.random() < 0.4}
        elif status == "FAILED":
            reason = _choice(rng, ("ACTIVATION_FAILED", "BOUNCED", "SUBSCRIPTION_INACTIVE"))
            record["failedOptions"] = {"reason": reason, "message": f"send failed: {reason.lower()}"}
        yield record


# ---------------------------------------------------------------------------------------------- loading


def load_seed(state: EmulatorState) -> None:
    """Fill an empty state from its config. Indexes are built in bulk: seeding 100k contacts and 200k
    reviews/ratings must stay well under a minute."""
    from wix_pipelines.emulator.state import rating_key, review_key

    config = state.config
    seed = config.seed
    state.extended_fields.bulk_load(seed_extended_fields())
    products = seed_products(seed, product_count(config.reviews, config.ratings, config.review_requests))
    state.products = [p["id"] for p in products]
    contacts = list(iter_seed_contacts(seed, config.contacts))
    state.contacts.bulk_load(contacts)
    email_index, phone_index = state.email_index, state.phone_index
    for record in contacts:
        rid = record["id"]
        for item in ((record["info"].get("emails") or {}).get("items")) or []:
            email_index.setdefault(item["email"].lower(), set()).add(rid)
        for item in ((record["info"].get("phones") or {}).get("items")) or []:
            phone_index.setdefault(item["e164Phone"], set()).add(rid)
    contact_ids = [c["id"] for c in contacts]
    names = [f"{c['info']['name']['first']} {c['info']['name']['last'][0]}." for c in contacts]
    reviews = list(iter_seed_reviews(seed, config.reviews, contact_ids, state.products, names))
    state.reviews.bulk_load(reviews)
    state.review_keys.update((review_key(r), r["id"]) for r in reviews)
    ratings = list(iter_seed_ratings(seed, config.ratings, contact_ids, state.products))
    state.ratings.bulk_load(ratings)
    state.rating_keys.update((rating_key(r), r["id"]) for r in ratings)
    orders = list(iter_seed_orders(seed, max(20, config.review_requests), products))
    state.orders.bulk_load(orders)
    state.review_requests.bulk_load(
        iter_seed_review_requests(seed, config.review_requests, orders, contact_ids, config.app_id)
    )
