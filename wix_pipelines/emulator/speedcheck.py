"""How fast the emulator serves big contact pages: `python -m wix_pipelines.emulator.speedcheck`.

Seeds an in-process emulator, then pages through every contact 1000 at a time with a raw httpx client (no JSON
parsing, as a benchmark's transport-only baseline) and with parsing, and prints records/s and ms per page.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import httpx
import orjson

from wix_pipelines.emulator.config import EmulatorConfig
from wix_pipelines.emulator.server import running_emulator

QUERY = "/contacts/v4/contacts/query"


def _pass(client: httpx.Client, total: int, body: dict[str, Any], parse: bool) -> tuple[float, list[float], int]:
    timings: list[float] = []
    size = 0
    started = time.perf_counter()
    for offset in range(0, total, 1000):
        t0 = time.perf_counter()
        response = client.post(QUERY, json={"query": {**body, "paging": {"limit": 1000, "offset": offset}}})
        response.raise_for_status()
        if parse:
            orjson.loads(response.content)
        timings.append(time.perf_counter() - t0)
        size += len(response.content)
    return time.perf_counter() - started, timings, size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    with running_emulator(EmulatorConfig(contacts=args.contacts)) as emulator:
        print(f"seeded {args.contacts} contacts in {time.perf_counter() - t0:.1f} s")
        with httpx.Client(base_url=emulator.base_url, headers=emulator.api_key_headers(), timeout=60) as client:
            for label, body, parse in (
                ("first pass, cold caches, raw", {}, False),
                ("warm, raw", {}, False),
                ("warm, orjson-parsed", {}, True),
                ("createdDate >= X, raw", {"filter": {"createdDate": {"$gte": "2024-01-01T00:00:00Z"}}}, False),
            ):
                elapsed, timings, size = _pass(client, args.contacts, body, parse)
                pages = len(timings)
                print(
                    f"{label:32s} {args.contacts / elapsed:9.0f} records/s  "
                    f"median {statistics.median(timings) * 1000:6.1f} ms/page  "
                    f"max {max(timings) * 1000:7.1f} ms  ({size / pages / 1e6:.2f} MB/page)"
                )


if __name__ == "__main__":
    main()
