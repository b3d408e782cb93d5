"""`wix-pipelines emulator ...`: serve a seeded Wix API emulator on loopback until SIGINT/SIGTERM.

The top-level CLI calls `add_emulator_parser(subparsers)` and dispatches to `run_emulator_command(args)`;
`python -m wix_pipelines.emulator.cli ...` runs the same command on its own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wix_pipelines.emulator.config import EmulatorConfig, FaultConfig
from wix_pipelines.emulator.server import HOST, serve
from wix_pipelines.emulator.state import EmulatorState


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8765, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated data")
    parser.add_argument("--contacts", type=int, default=0)
    parser.add_argument("--reviews", type=int, default=0)
    parser.add_argument("--ratings", type=int, default=0)
    parser.add_argument("--review-requests", type=int, default=0)
    parser.add_argument("--webhook-url", default=None, help="POST signed webhook events here")
    parser.add_argument("--public-key-out", type=Path, default=None, help="write the webhook public key (PEM) here")
    parser.add_argument("--fault-429", type=float, default=0.0, help="share of requests answered 429")
    parser.add_argument("--fault-5xx", type=float, default=0.0, help="share of requests answered 500/503")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every request")
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds on a 429")
    parser.add_argument("--fault-seed", type=int, default=0, help="seed of the fault RNG")
    parser.add_argument("--moderation", choices=("APPROVED", "IN_MODERATION"), default="APPROVED")
    parser.add_argument("--token-ttl", type=int, default=14400, help="OAuth access-token lifetime, seconds")


def add_emulator_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("emulator", help="serve a local Wix REST API emulator with seeded data")
    _configure(parser)
    parser.set_defaults(func=run_emulator_command)


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        seed=args.seed,
        contacts=args.contacts,
        reviews=args.reviews,
        ratings=args.ratings,
        review_requests=args.review_requests,
        webhook_url=args.webhook_url,
        initial_moderation=args.moderation,
        token_ttl_s=args.token_ttl,
        faults=FaultConfig(
            rate_429=args.fault_429,
            rate_5xx=args.fault_5xx,
            latency_ms=args.latency_ms,
            retry_after_s=args.retry_after,
            seed=args.fault_seed,
        ),
    )


def run_emulator_command(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    port = args.port
    if port == 0:
        import socket

        with socket.socket() as probe:  # pick a free port up front so we can print the URL before serving
            probe.bind((HOST, 0))
            port = probe.getsockname()[1]

    def announce(state: EmulatorState) -> None:
        if args.public_key_out:
            args.public_key_out.parent.mkdir(parents=True, exist_ok=True)
            args.public_key_out.write_text(state.public_key_pem)
        counts = ", ".join(f"{name}={len(c)}" for name, c in state.collections.items())
        # These are the emulator's fixed defaults, not credentials of any real site.
        print(
            f"Wix emulator on http://{HOST}:{port}\n"
            f"  api key: {config.api_key}   wix-site-id: {config.site_id}\n"
            f"  oauth: client_id={config.app_id} client_secret={config.app_secret} instance_id={config.instance_id}\n"
            f"  data: {counts}\n"
            f"  admin: http://{HOST}:{port}/_emulator/stats"
            + (f"\n  webhook public key: {args.public_key_out}" if args.public_key_out else ""),
            flush=True,
        )

    serve(config, port, on_ready=announce)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wix-pipelines-emulator", description=__doc__)
    _configure(parser)
    return run_emulator_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
