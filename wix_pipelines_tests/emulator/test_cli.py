"""The `emulator` command: flags map onto the config, and the process serves until SIGTERM."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from wix_pipelines.emulator.cli import add_emulator_parser, config_from_args


def test_flags_map_onto_the_emulator_config() -> None:
    parser = argparse.ArgumentParser()
    add_emulator_parser(parser.add_subparsers())
    flags = (
        "emulator --port 9 --seed 3 --contacts 10 --reviews 20 --ratings 30 --review-requests 4 --fault-429 0.1 "
        "--fault-5xx 0.05 --latency-ms 20 --retry-after 2 --moderation IN_MODERATION"
    )
    args = parser.parse_args(flags.split())
    config = config_from_args(args)
    assert (config.seed, config.contacts, config.reviews, config.ratings, config.review_requests) == (3, 10, 20, 30, 4)
    assert (config.faults.rate_429, config.faults.rate_5xx, config.faults.latency_ms) == (0.1, 0.05, 20)
    assert config.faults.retry_after_s == 2 and config.initial_moderation == "IN_MODERATION"
    assert args.port == 9


def test_command_prints_base_url_writes_public_key_and_stops_on_sigterm(tmp_path: Path) -> None:
    key_file = tmp_path / "key.pem"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wix_pipelines.emulator.cli",
            "--port",
            "0",
            "--contacts",
            "5",
            "--public-key-out",
            str(key_file),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        base_url = first_line.split(" on ")[1].strip()
        for _ in range(200):
            try:
                health = httpx.get(base_url + "/_emulator/health")
                break
            except httpx.ConnectError:
                import time

                time.sleep(0.02)
        assert health.json() == {"ok": True}
        assert key_file.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
