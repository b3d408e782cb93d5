"""One alert: a review rated below the threshold, as the owner sees it in a notification."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class Alert(BaseModel):
    """A row of `low_rating_alerts`. `alert_id` is the review id: one alert per review, ever."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    review_id: str
    namespace: str | None = None
    entity_id: str | None = None
    author_contact_id: str | None = None
    author_name: str | None = None
    rating: int
    title: str | None = None
    excerpt: str | None = None
    moderation_status: str | None = None
    has_reply: bool = False
    created_date: datetime | None = None
    dashboard_url: str
    threshold: int

    @property
    def alert_id(self) -> str:
        return self.review_id

    def as_record(self) -> dict[str, Any]:
        """JSON-ready fields (ISO times), e.g. one outbox line."""
        record = self.model_dump(mode="json")
        record["alert_id"] = self.alert_id
        return record


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn treats these three as control characters; review text is user input.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(alert: Alert) -> dict[str, Any]:
    """A Slack incoming-webhook body. Only `text` is used: Mattermost, Rocket.Chat, Discord's /slack endpoint
    and Teams connectors in Slack mode all accept it, while `blocks` are Slack-only."""
    stars = "★" * alert.rating + "☆" * (5 - alert.rating)
    who = _slack_escape(alert.author_name or "an anonymous author")
    created = alert.created_date.strftime("%Y-%m-%d %H:%M UTC") if alert.created_date else "unknown time"
    lines = [
        f":warning: *{stars} ({alert.rating}/5) review* of `{_slack_escape(alert.entity_id or '?')}` by {who}",
        f"> {_slack_escape(alert.excerpt or '(no text)')}",
        f"<{alert.dashboard_url}|Reply in the reviews dashboard> · review `{alert.review_id}` · "
        f"contact `{alert.author_contact_id or '-'}` · {created}",
    ]
    return {"text": "\n".join(lines), "unfurl_links": False}
