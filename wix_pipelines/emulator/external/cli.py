"""`wix-pipelines external-emulator --port P`: serve the external-system emulator beside the Wix one."""

from __future__ import annotations

import argparse

from wix_pipelines.emulator.server import HOST

from .server import serve_external
from .state import SYNC_TOKEN, USER_TOKEN, ExternalState


def add_external_emulator_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("external-emulator", help="serve a local emulator of the external CRM")
    parser.add_argument("--port", type=int, default=8766, help="TCP port on 127.0.0.1")


def run_external_emulator_command(args: argparse.Namespace) -> int:
    def announce(state: ExternalState) -> None:
        # Fixed emulator tokens, not credentials of any real system.
        print(
            f"external emulator on http://{HOST}:{args.port}\n"
            f"  sync token: {SYNC_TOKEN}   user token: {USER_TOKEN}\n"
            f"  admin: http://{HOST}:{args.port}/_admin/stats",
            flush=True,
        )

    serve_external(args.port, on_ready=announce)
    return 0
