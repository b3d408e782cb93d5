"""Low-rating alert delivery: channels (Slack-compatible webhook, JSONL outbox) and the deliver-once loop.

A plain library (no Dagster): `wix_pipelines.defs.alerts` runs `deliver_pending` from a sensor-triggered op.
"""

from .channels import Channel, DeliveryError, OutboxChannel, WebhookChannel
from .delivery import DeliveryReport, deliver_pending
from .model import Alert

__all__ = [
    "Alert",
    "Channel",
    "DeliveryError",
    "DeliveryReport",
    "OutboxChannel",
    "WebhookChannel",
    "deliver_pending",
]
