"""Client-side rate limiter: a thread-safe token bucket.

Wix allows 200 requests per minute per app instance (SPEC.md §2.5). Staying under that on our side is cheaper
than collecting 429s. The bucket refills at ``max_requests / per_seconds`` tokens a second and holds at most
``burst`` tokens, so short bursts go out at once while the long-run rate matches the limit. The default burst
is 10 % of the window's budget: in any window the client sends at most ``max_requests + burst`` requests, and
the server's 429 + ``Retry-After`` (which the transport honours) covers the rest.

Share one ``RateLimiter`` between clients that talk to the same site to make the limit per site.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(
        self,
        max_requests: int,
        per_seconds: float = 60.0,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_requests <= 0 or per_seconds <= 0:
            raise ValueError("RateLimiter needs max_requests > 0 and per_seconds > 0")
        self.max_requests = max_requests
        self.per_seconds = per_seconds
        self.rate = max_requests / per_seconds  # tokens per second
        self.capacity = float(burst if burst is not None else max(1, max_requests // 10))
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._updated = clock()
        self._lock = threading.Lock()
        self.total_wait_s = 0.0

    def __repr__(self) -> str:
        return f"RateLimiter({self.max_requests} per {self.per_seconds:g}s, burst={self.capacity:g})"

    def _reserve(self) -> float:
        """Take one token, possibly going into debt; return how long the caller must wait for it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            # Going negative reserves a future token, so concurrent waiters queue in order instead of racing.
            self._tokens -= 1.0
            if self._tokens >= 0:
                return 0.0
            wait = -self._tokens / self.rate
            self.total_wait_s += wait
            return wait

    def acquire(self) -> float:
        """Block until a request may be sent; return the seconds waited."""
        wait = self._reserve()
        if wait > 0:
            self._sleep(wait)
        return wait
