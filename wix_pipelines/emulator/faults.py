"""Faults on demand: random 429/5xx/latency from a seeded RNG, and a deterministic script for tests."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from wix_pipelines.emulator.config import FaultConfig


@dataclass
class FaultDecision:
    """What to do to one request instead of (or before) serving it."""

    status: int | None = None  # None: serve normally after the delay
    retry_after: float | None = None
    delay_s: float = 0.0
    drop_connection: bool = False


@dataclass
class ScriptedFault:
    status: int | None
    remaining: int
    path_prefix: str | None
    retry_after: float | None
    delay_s: float | None
    drop_connection: bool


class FaultInjector:
    """Decides, per API request, whether it fails. Thread-safe: tests call it from their own thread."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.config = config or FaultConfig()
        self._rng = random.Random(self.config.seed)
        self._script: list[ScriptedFault] = []
        self.injected = 0

    def configure(
        self,
        rate_429: float | None = None,
        rate_5xx: float | None = None,
        latency_ms: float | None = None,
        retry_after_s: float | None = None,
        seed: int | None = None,
    ) -> None:
        """Change the random fault rates at run time (a new seed restarts the RNG sequence)."""
        with self._lock:
            if rate_429 is not None:
                self.config.rate_429 = rate_429
            if rate_5xx is not None:
                self.config.rate_5xx = rate_5xx
            if latency_ms is not None:
                self.config.latency_ms = latency_ms
            if retry_after_s is not None:
                self.config.retry_after_s = retry_after_s
            if seed is not None:
                self.config.seed = seed
                self._rng = random.Random(seed)

    def inject(
        self,
        status: int | None,
        count: int = 1,
        path_prefix: str | None = None,
        retry_after: float | None = None,
        delay_s: float | None = None,
        drop_connection: bool = False,
    ) -> None:
        """Make the next `count` requests whose path starts with `path_prefix` fail this way.

        `status` None with `delay_s` only delays the request (beyond a client's timeout if you like);
        `drop_connection` closes the socket without any response.
        """
        with self._lock:
            self._script.append(ScriptedFault(status, count, path_prefix, retry_after, delay_s, drop_connection))

    def clear(self) -> None:
        with self._lock:
            self._script.clear()
            self.config.rate_429 = 0.0
            self.config.rate_5xx = 0.0
            self.config.latency_ms = 0.0

    def pending(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._script)

    def decide(self, path: str) -> FaultDecision | None:
        with self._lock:
            for fault in self._script:
                if fault.remaining > 0 and (fault.path_prefix is None or path.startswith(fault.path_prefix)):
                    fault.remaining -= 1
                    self._script = [f for f in self._script if f.remaining > 0]
                    self.injected += 1
                    retry_after = fault.retry_after
                    if retry_after is None and fault.status == 429:
                        retry_after = self.config.retry_after_s
                    return FaultDecision(fault.status, retry_after, fault.delay_s or 0.0, fault.drop_connection)
            cfg = self.config
            delay = cfg.latency_ms / 1000.0
            if cfg.rate_429 <= 0 and cfg.rate_5xx <= 0:
                return FaultDecision(delay_s=delay) if delay else None
            draw = self._rng.random()
            if draw < cfg.rate_429:
                self.injected += 1
                return FaultDecision(429, cfg.retry_after_s, delay)
            if draw < cfg.rate_429 + cfg.rate_5xx:
                self.injected += 1
                return FaultDecision(503 if self._rng.random() < 0.5 else 500, None, delay)
            return FaultDecision(delay_s=delay) if delay else None
