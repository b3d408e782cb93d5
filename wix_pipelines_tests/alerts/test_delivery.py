"""Low-rating alerts delivered once: sensor on a real instance, the delivery job, a real HTTP receiver (issue 4)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import orjson
import pytest

from wix_pipelines.alerts import OutboxChannel, WebhookChannel, deliver_pending
from wix_pipelines.defs.alerts import AlertsResource, deliver_low_rating_alerts_job, low_rating_alerts_sensor
from wix_pipelines.warehouse import Warehouse
from wix_pipelines_tests.marts.builders import SITE_ID, load, materialize, review, rows, warehouse_resource

from .receiver import Receiver, running_receiver


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def _alerts(tmp_path: Path, receiver: Receiver | None, **overrides: object) -> AlertsResource:
    fields: dict[str, object] = {
        "site_id": SITE_ID,
        "webhook_url": receiver.url if receiver else None,
        "outbox_path": str(tmp_path / "data" / "alerts" / "outbox.jsonl"),
        "retry_wait_s": 0.1,
        "max_retries": 3,
    }
    fields.update(overrides)
    return AlertsResource(**fields)  # type: ignore[arg-type]


def _outbox(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "data" / "alerts" / "outbox.jsonl"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def _tick(instance: dg.DagsterInstance, cursor: str | None) -> tuple[list[dg.RunRequest], str | None]:
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    result = low_rating_alerts_sensor(context)
    if isinstance(result, dg.SkipReason):
        return [], cursor
    assert isinstance(result, dg.SensorResult)
    return list(result.run_requests or []), result.cursor


def _deliver(
    tmp_path: Path, alerts: AlertsResource, instance: dg.DagsterInstance, request: dg.RunRequest | None = None
) -> dg.ExecuteInProcessResult:
    return deliver_low_rating_alerts_job.execute_in_process(
        resources={"warehouse": warehouse_resource(tmp_path), "alerts": alerts},
        instance=instance,
        tags=request.tags if request else None,
        raise_on_error=False,
    )


def test_an_alert_is_delivered_once_across_two_runs(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    load(tmp_path, "reviews", [review("bad", rating=1, body="Broke <at once> & leaked"), review("good", rating=5)])
    with running_receiver() as receiver:
        alerts = _alerts(tmp_path, receiver)
        materialize(tmp_path, "low_rating_alerts", alerts=alerts, instance=instance)

        requests, cursor = _tick(instance, None)
        assert len(requests) == 1
        assert _deliver(tmp_path, alerts, instance, requests[0]).success
        # Nothing new: the sensor stays quiet.
        assert _tick(instance, cursor)[0] == []

        # A re-run of the asset: a new materialization, a new delivery run, but nothing is sent twice.
        materialize(tmp_path, "low_rating_alerts", alerts=alerts, instance=instance)
        requests_again, _ = _tick(instance, cursor)
        assert len(requests_again) == 1 and requests_again[0].run_key != requests[0].run_key
        assert _deliver(tmp_path, alerts, instance, requests_again[0]).success

    assert len(receiver.accepted) == 1
    text = str(receiver.accepted[0]["text"])
    assert "`bad`" in text and f"https://manage.wix.com/dashboard/{SITE_ID}/reviews" in text
    assert "Broke &lt;at once&gt; &amp; leaked" in text  # user text cannot inject Slack links
    [line] = _outbox(tmp_path)
    assert (line["alert_id"], line["rating"], line["author_contact_id"]) == ("bad", 1, "contact-bad")
    assert line["dashboard_url"] == f"https://manage.wix.com/dashboard/{SITE_ID}/reviews"
    assert rows(tmp_path, "SELECT channel, status, attempts FROM _alert_deliveries ORDER BY 1") == [
        ("outbox", "delivered", 1),
        ("webhook", "delivered", 1),
    ]


def test_a_new_low_rating_after_delivery_is_the_only_one_sent(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    load(tmp_path, "reviews", [review("first", rating=2)])
    alerts = _alerts(tmp_path, None)
    materialize(tmp_path, "low_rating_alerts", alerts=alerts, instance=instance)
    assert _deliver(tmp_path, alerts, instance).success

    load(tmp_path, "reviews", [review("second", rating=1, created="2025-02-01T00:00:00.000Z")])
    materialize(tmp_path, "low_rating_alerts", alerts=alerts, instance=instance)
    assert _deliver(tmp_path, alerts, instance).success

    assert [line["alert_id"] for line in _outbox(tmp_path)] == ["first", "second"]


def test_a_delivery_that_fails_once_is_retried_and_delivered_once(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    load(tmp_path, "reviews", [review("bad", rating=1)])
    with running_receiver(fail_first=1) as receiver:
        alerts = _alerts(tmp_path, receiver)
        materialize(tmp_path, "low_rating_alerts", alerts=alerts, instance=instance)
        result = _deliver(tmp_path, alerts, instance)

    assert result.success
    assert len(receiver.requests) == 2 and len(receiver.accepted) == 1
    retried = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(retried) == 1  # the failure is a visible step retry in the run's event log
    assert rows(tmp_path, "SELECT channel, status, attempts, last_error FROM _alert_deliveries ORDER BY 1") == [
        ("outbox", "delivered", 1, None),  # the outbox took it on the first attempt and was not written again
        ("webhook", "delivered", 2, None),
    ]
    assert len(_outbox(tmp_path)) == 1


def test_a_channel_down_past_every_retry_fails_the_run_and_keeps_the_alert(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    load(tmp_path, "reviews", [review("bad", rating=1)])
    with running_receiver(fail_first=100) as receiver:
        alerts = _alerts(tmp_path, receiver, max_retries=1)
        materialize(tmp_path, "low_rating_alerts", alerts=alerts, instance=instance)
        failed = _deliver(tmp_path, alerts, instance)
        assert not failed.success
        assert rows(tmp_path, "SELECT status, attempts FROM _alert_deliveries WHERE channel = 'webhook'") == [
            ("failed", 2)
        ]
        assert "HTTP 500" in rows(tmp_path, "SELECT last_error FROM _alert_deliveries WHERE channel = 'webhook'")[0][0]

        receiver.fail_first = 0  # the channel is back: the next delivery run sends it, once
        assert _deliver(tmp_path, alerts, instance).success

    assert len(receiver.accepted) == 1
    assert len(_outbox(tmp_path)) == 1


def test_an_outbox_line_written_just_before_a_crash_is_not_written_again(tmp_path: Path) -> None:
    load(tmp_path, "reviews", [review("bad", rating=1), review("worse", rating=1, created="2025-03-01T00:00:00.000Z")])
    materialize(tmp_path, "low_rating_alerts")
    outbox_path = tmp_path / "data" / "alerts" / "outbox.jsonl"
    outbox_path.parent.mkdir(parents=True)
    # The line for "bad" made it to disk, then the process died before the ledger commit; and a torn line.
    outbox_path.write_bytes(b'{"alert_id":"bad","rating":1}\n{"alert_id":"wor')

    with Warehouse(warehouse_resource(tmp_path).path).connect() as con:
        report = deliver_pending(con, [OutboxChannel(outbox_path)])

    assert (report.recovered, report.delivered) == ({"outbox": 1}, {"outbox": 1})
    ids = [orjson.loads(line)["alert_id"] for line in outbox_path.read_bytes().splitlines() if line.endswith(b"}")]
    assert ids == ["bad", "worse"]


def test_alerts_of_reviews_before_deliver_since_are_never_sent(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    load(
        tmp_path,
        "reviews",
        [
            review("old", rating=1, created="2024-01-01T00:00:00.000Z"),
            review("new", rating=1, created="2025-06-01T00:00:00.000Z"),
        ],
    )
    alerts = _alerts(tmp_path, None, deliver_since="2025-01-01T00:00:00Z")
    materialize(tmp_path, "low_rating_alerts", alerts=alerts, instance=instance)
    assert _deliver(tmp_path, alerts, instance).success
    assert [line["alert_id"] for line in _outbox(tmp_path)] == ["new"]


def test_the_webhook_url_stays_out_of_reprs_and_logs() -> None:
    channel = WebhookChannel("https://hooks.example/services/T/B/very-secret")
    assert "very-secret" not in repr(channel)
    channel.close()


def test_the_delivery_job_does_nothing_before_the_alerts_table_exists(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    Warehouse(warehouse_resource(tmp_path).path).ensure_schema()
    assert _deliver(tmp_path, _alerts(tmp_path, None), instance).success
    assert _outbox(tmp_path) == []
    with duckdb.connect(warehouse_resource(tmp_path).path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM _alert_deliveries").fetchall() == [(0,)]
