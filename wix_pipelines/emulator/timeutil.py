"""Timestamps as Wix writes them: ISO-8601 UTC with milliseconds and `Z` (SPEC.md §2.2).

Stored records keep this exact text, so string order equals time order and filters compare strings.
"""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime


def ms_to_iso(ms: int) -> str:
    seconds, millis = divmod(int(ms), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def now_iso() -> str:
    return ms_to_iso(now_ms())


def parse_iso_ms(value: str) -> int:
    """Epoch milliseconds of an ISO-8601 timestamp, with or without a fraction, `Z` or an offset."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return calendar.timegm(parsed.utctimetuple()) * 1000 + parsed.microsecond // 1000


def normalize_iso(value: str) -> str:
    """Canonical form (`...sss Z`) of any accepted timestamp; raises ValueError when unparseable."""
    return ms_to_iso(parse_iso_ms(value))
