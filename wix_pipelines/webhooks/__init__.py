"""The Wix webhook receiver and its durable inbox (no Dagster: the sensor in ``defs/sync`` reads the inbox)."""

from .inbox import DEFAULT_INBOX_PATH, InboxEvent, ReplayedEventError, WebhookInbox
from .receiver import Outcome, WebhookReceiver, create_receiver_app
from .server import RunningReceiver, start_webhook_receiver
from .settings import ReceiverSettings, read_public_key

__all__ = [
    "DEFAULT_INBOX_PATH",
    "InboxEvent",
    "Outcome",
    "ReceiverSettings",
    "ReplayedEventError",
    "RunningReceiver",
    "WebhookInbox",
    "WebhookReceiver",
    "create_receiver_app",
    "read_public_key",
    "start_webhook_receiver",
]
