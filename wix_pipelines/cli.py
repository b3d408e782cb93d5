"""The `wix-pipelines` command: the emulators, the demo and the webhook receiver."""

from __future__ import annotations

import argparse
import gc
import logging
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wix-pipelines", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)

    from wix_pipelines.emulator.cli import add_emulator_parser

    add_emulator_parser(subparsers)

    from wix_pipelines.demo import add_demo_parser

    add_demo_parser(subparsers)

    from wix_pipelines.webhooks.cli import add_webhooks_parser

    add_webhooks_parser(subparsers)

    from wix_pipelines.emulator.external.cli import add_external_emulator_parser

    add_external_emulator_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # One INFO line per HTTP request drowns the run's own progress lines.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    finally:
        # DuckDB 2.0's bindings print "nanobind: leaked ..." at exit while reference cycles (e.g. httpx responses)
        # are still uncollected; collecting them first keeps every command's last lines readable.
        gc.collect()


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "emulator":
        from wix_pipelines.emulator.cli import run_emulator_command

        return run_emulator_command(args)
    if args.command == "webhooks":
        from wix_pipelines.webhooks.cli import run_webhooks_command

        return run_webhooks_command(args)
    if args.command == "external-emulator":
        from wix_pipelines.emulator.external.cli import run_external_emulator_command

        return run_external_emulator_command(args)
    from wix_pipelines.demo import run_demo_command

    return run_demo_command(args)


if __name__ == "__main__":
    sys.exit(main())
