"""The alerts resource: threshold, dashboard link and delivery channels of low-rating alerts.

The webhook URL is a secret (anyone holding it can post to the channel), so it arrives as `EnvVar`, read
when a run starts; definitions load with no variable set and the UI shows only the variable's name.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import dagster as dg
from pydantic import Field

from wix_pipelines.alerts import Channel, OutboxChannel, WebhookChannel
from wix_pipelines.settings import DEFAULT_WAREHOUSE_PATH
from wix_pipelines.warehouse.marts import DEFAULT_LOW_RATING_THRESHOLD

# The Wix dashboard's reviews page of one site. Wix has no per-review deep link, so every alert points at the
# list where the owner finds the review (newest first) and replies. Override with WIX_REVIEWS_DASHBOARD_URL.
DEFAULT_DASHBOARD_URL = "https://manage.wix.com/dashboard/{site_id}/reviews"
# Without a site id (an OAuth app install) the link opens the account's site list instead of a broken URL.
NO_SITE_DASHBOARD_URL = "https://manage.wix.com/account/sites"
WEBHOOK_ENV = "WIX_ALERTS_WEBHOOK_URL"


class AlertsResource(dg.ConfigurableResource):
    """Low-rating alerts: which reviews alert, the link they carry, and where they are delivered."""

    rating_threshold: int = Field(
        default=DEFAULT_LOW_RATING_THRESHOLD, description="Alert on reviews rated strictly below this."
    )
    site_id: str | None = Field(default=None, description="Wix site id, for the dashboard link (WIX_SITE_ID).")
    dashboard_url_template: str = Field(default=DEFAULT_DASHBOARD_URL, description="`{site_id}` is replaced.")
    webhook_url: str | None = Field(
        default=None, description=f"Slack-compatible incoming webhook; pass as EnvVar('{WEBHOOK_ENV}')."
    )
    outbox_path: str | None = Field(
        default=None, description="Append-only JSONL outbox (e.g. data/alerts/outbox.jsonl); empty = off."
    )
    deliver_since: str | None = Field(
        default=None,
        description="ISO time: reviews created before it are never delivered (switching alerts on for an old site).",
    )
    webhook_timeout_s: float = 10.0
    max_retries: int = Field(default=4, description="Retries of a failed delivery within one run.")
    retry_wait_s: float = Field(default=30.0, description="Wait before the first retry; doubles each time.")

    def dashboard_url(self) -> str:
        if not self.site_id:
            return NO_SITE_DASHBOARD_URL
        return self.dashboard_url_template.format(site_id=self.site_id)

    def since(self) -> datetime | None:
        return datetime.fromisoformat(self.deliver_since.replace("Z", "+00:00")) if self.deliver_since else None

    def channels(self) -> list[Channel]:
        out: list[Channel] = []
        if self.webhook_url:
            out.append(WebhookChannel(self.webhook_url, timeout=self.webhook_timeout_s))
        if self.outbox_path:
            out.append(OutboxChannel(self.outbox_path))
        return out


def alerts_from_env() -> AlertsResource:
    """The resource as the deployment configures it. Only the webhook variable's *name* is looked at here."""
    warehouse = Path(os.environ.get("WIX_WAREHOUSE_PATH", str(DEFAULT_WAREHOUSE_PATH)))
    return AlertsResource(
        rating_threshold=int(os.environ.get("WIX_LOW_RATING_THRESHOLD", str(DEFAULT_LOW_RATING_THRESHOLD))),
        site_id=dg.EnvVar("WIX_SITE_ID") if "WIX_SITE_ID" in os.environ else None,
        dashboard_url_template=os.environ.get("WIX_REVIEWS_DASHBOARD_URL", DEFAULT_DASHBOARD_URL),
        webhook_url=dg.EnvVar(WEBHOOK_ENV) if WEBHOOK_ENV in os.environ else None,
        # Next to the warehouse file (data/ by default), like the exports.
        outbox_path=os.environ.get("WIX_ALERTS_OUTBOX", str(warehouse.parent / "alerts" / "outbox.jsonl")),
        deliver_since=os.environ.get("WIX_ALERTS_SINCE") or None,
    )
