"""The client-side token bucket spaces requests at the configured rate."""

import itertools
import threading
import time

from wix_pipelines.wix import RateLimiter


def test_requests_beyond_the_burst_are_spaced_at_the_rate() -> None:
    limiter = RateLimiter(20, per_seconds=1.0, burst=2)  # 20/s: one token every 50 ms
    started = time.monotonic()
    stamps = []
    for _ in range(8):
        limiter.acquire()
        stamps.append(time.monotonic() - started)
    # Two go at once (the burst); the other six wait ~50 ms each. Sleeps may overshoot under load, so only
    # the lower bounds are tight.
    assert stamps[1] < 0.05
    assert 0.29 <= stamps[-1] < 1.5
    assert all(later - earlier > 0 for earlier, later in itertools.pairwise(stamps))
    assert stamps[4] >= 0.145  # three refills after the burst


def test_concurrent_threads_share_one_budget() -> None:
    limiter = RateLimiter(50, per_seconds=1.0, burst=1)  # one token every 20 ms
    started = time.monotonic()

    def work() -> None:
        for _ in range(5):
            limiter.acquire()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 20 acquisitions, 1 free: at least 19 x 20 ms whatever the interleaving.
    assert time.monotonic() - started >= 0.36


def test_default_budget_is_200_per_minute_with_a_small_burst() -> None:
    limiter = RateLimiter(200)
    assert limiter.rate == 200 / 60
    assert limiter.capacity == 20
