"""Deliver every pending alert once to every channel, keeping score in the warehouse ledger."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from wix_pipelines.warehouse import alert_ledger

from .channels import Channel, DeliveryError
from .model import Alert


@dataclass
class DeliveryReport:
    delivered: dict[str, int] = field(default_factory=dict)  # channel -> alerts delivered in this call
    recovered: dict[str, int] = field(default_factory=dict)  # channel -> found delivered by the channel itself
    pending: dict[str, int] = field(default_factory=dict)  # channel -> still undelivered after this call
    errors: list[str] = field(default_factory=list)  # one per failed channel (the first failure stops it)

    @property
    def failed(self) -> bool:
        return bool(self.errors)


def deliver_pending(
    con: duckdb.DuckDBPyConnection,
    channels: Sequence[Channel],
    *,
    run_id: str | None = None,
    since: datetime | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> DeliveryReport:
    """Send each alert not yet delivered on a channel, oldest first, and commit each outcome on its own.

    The first failure on a channel stops that channel for this call (a down endpoint would fail every alert,
    and hammering it helps nobody); the other channels carry on. The caller retries later: already
    delivered alerts are skipped, so a retry or a re-run sends only what is still missing.
    """
    report = DeliveryReport()
    alert_ledger.ensure_ledger(con)
    if not alert_ledger.alerts_table_exists(con):
        log("low_rating_alerts does not exist yet: nothing to deliver")
        return report
    for channel in channels:
        recovered = alert_ledger.record_recovered(con, channel.already_delivered(), channel.name, run_id=run_id)
        report.recovered[channel.name] = recovered
        pending = alert_ledger.pending_alerts(con, channel.name, since=since)
        sent = 0
        for index, row in enumerate(pending):
            alert = Alert.model_validate(row)
            try:
                channel.send(alert)
            except DeliveryError as exc:
                alert_ledger.record_failed(con, alert.alert_id, channel.name, str(exc), run_id=run_id)
                report.errors.append(f"{channel.name}: {exc}")
                report.pending[channel.name] = len(pending) - index
                log(f"{channel.name}: delivery failed ({exc}); {len(pending) - index} alert(s) left for a retry")
                break
            alert_ledger.record_delivered(con, alert.alert_id, channel.name, run_id=run_id)
            sent += 1
        else:
            report.pending[channel.name] = 0
        report.delivered[channel.name] = sent
        log(f"{channel.name}: delivered {sent} alert(s), {report.pending[channel.name]} pending")
    return report
