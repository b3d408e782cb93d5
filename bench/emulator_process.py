"""The emulator the bench reads from: its own process on loopback, and its request counters.

The emulator runs in a separate process (not a thread of the bench) so its CPU and memory are not charged to
any measured stage, and so a stage cannot be slowed by sharing a GIL with the server. Requests are counted by
the server (`/_emulator/stats`), not by the clients under test: the server's count is the honest one.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from wix_pipelines.emulator.config import DEFAULT_API_KEY, DEFAULT_SITE_ID

HOST = "127.0.0.1"

# The emulator's route templates of the four pulled streams, as `/_emulator/stats` names them.
STREAM_ROUTES = {
    "contacts": "POST /contacts/v4/contacts/query",
    "reviews": "POST /reviews/v1/reviews/query",
    "ratings": "POST /ratings/v1/ratings/query",
    "review_requests": "POST /reviews/v2/review-requests/query",
}


@dataclass(frozen=True)
class Sizes:
    contacts: int
    reviews: int
    ratings: int
    review_requests: int

    def as_dict(self) -> dict[str, int]:
        return {
            "contacts": self.contacts,
            "reviews": self.reviews,
            "ratings": self.ratings,
            "review_requests": self.review_requests,
        }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class EmulatorProcess:
    """`wix-pipelines emulator` in a child process; use as a context manager."""

    def __init__(self, sizes: Sizes, log_path: Path, *, seed: int = 1, start_timeout_s: float = 1800.0) -> None:
        self.sizes = sizes
        self.port = _free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.api_key = DEFAULT_API_KEY
        self.site_id = DEFAULT_SITE_ID
        self._log_path = log_path
        self._seed = seed
        self._start_timeout_s = start_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._admin = httpx.Client(base_url=self.base_url, timeout=120.0)
        self.seed_seconds = 0.0

    def __enter__(self) -> EmulatorProcess:
        command = [
            sys.executable,
            "-m",
            "wix_pipelines.cli",
            "emulator",
            "--port",
            str(self.port),
            "--seed",
            str(self._seed),
            "--contacts",
            str(self.sizes.contacts),
            "--reviews",
            str(self.sizes.reviews),
            "--ratings",
            str(self.sizes.ratings),
            "--review-requests",
            str(self.sizes.review_requests),
        ]
        started = time.monotonic()
        with self._log_path.open("wb") as log:
            self._proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = started + self._start_timeout_s
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"the emulator exited with {self._proc.returncode} while seeding; see {self._log_path}"
                )
            try:
                self._admin.get("/_emulator/stats", timeout=2.0).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    self.__exit__(None, None, None)
                    raise RuntimeError(
                        f"the emulator did not answer within {self._start_timeout_s:.0f}s; see {self._log_path}"
                    ) from None
                time.sleep(0.25)
        self.seed_seconds = time.monotonic() - started
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._admin.close()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def stats(self) -> dict[str, int]:
        """Requests served so far, by "METHOD /route/template" (admin routes are not counted)."""
        response = self._admin.get("/_emulator/stats")
        response.raise_for_status()
        return dict(response.json()["requests"])

    def get_record(self, collection: str, record_id: str) -> dict[str, Any]:
        response = self._admin.get(f"/_emulator/records/{collection}/{record_id}")
        response.raise_for_status()
        return dict(response.json())

    def insert_records(self, collection: str, records: list[dict[str, Any]], chunk: int = 2000) -> int:
        """Raw insert or replace (the admin back door: no webhooks, not counted as API requests)."""
        for start in range(0, len(records), chunk):
            response = self._admin.post(
                f"/_emulator/records/{collection}", json={"records": records[start : start + chunk]}
            )
            response.raise_for_status()
        return len(records)


def requests_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Per-stream request counts between two stats snapshots, plus `other` and `total`."""
    delta = {route: after.get(route, 0) - before.get(route, 0) for route in set(before) | set(after)}
    result = {stream: delta.pop(route, 0) for stream, route in STREAM_ROUTES.items()}
    result["other"] = sum(delta.values())
    result["total"] = sum(result.values())
    return result
