"""`wix-pipelines webhooks --port P`: serve the verified webhook endpoint that feeds the inbox."""

from __future__ import annotations

import argparse
from pathlib import Path

from wix_pipelines.wix.webhooks import WebhookVerificationError

from .inbox import WebhookInbox
from .receiver import WebhookReceiver
from .server import HOST, PATH, serve_receiver
from .settings import ReceiverSettings, read_public_key


def add_webhooks_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("webhooks", help="receive Wix webhooks (verified) into the inbox")
    parser.add_argument("--port", type=int, default=8780)
    parser.add_argument("--host", default=HOST, help="interface to listen on (loopback by default)")
    parser.add_argument("--inbox", type=Path, default=None, help="inbox file (default $WIX_WEBHOOK_INBOX)")
    parser.add_argument("--public-key", default=None, help="PEM, base64 PEM or path (default $WIX_WEBHOOK_PUBLIC_KEY)")


def run_webhooks_command(args: argparse.Namespace) -> int:
    settings = ReceiverSettings()
    try:
        key = read_public_key(args.public_key) if args.public_key else settings.public_key_pem()
        receiver = WebhookReceiver(WebhookInbox(args.inbox or settings.webhook_inbox), key, app_id=settings.app_id)
    except (ValueError, WebhookVerificationError) as exc:
        print(f"cannot start the webhook receiver: {exc}")
        return 2
    print(f"webhook receiver on http://{args.host}:{args.port}{PATH} -> {receiver.inbox.path}", flush=True)
    serve_receiver(receiver, args.host, args.port)
    return 0
