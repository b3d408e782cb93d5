"""The derived assets through real Dagster, over hand-built raw rows whose right answers are known (issue 4)."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from dagster._core.definitions.declarative_automation.automation_condition_tester import (
    EvaluateAutomationConditionsResult,
)

from wix_pipelines.defs.alerts.resources import AlertsResource
from wix_pipelines.defs.ingest.assets import pull_assets
from wix_pipelines.defs.marts import MARTS_GROUP, mart_assets, marts_automation_sensor
from wix_pipelines.defs.resources import WarehouseResource, WixApiResource
from wix_pipelines.warehouse import Warehouse
from wix_pipelines.warehouse.marts import MARTS, build_review_media, table_columns

from .builders import SITE_ID, contact, load, materialize, metadata, rating, review, rows, warehouse_resource

IMAGE = {"image": {"id": "img-1", "url": "https://img.example/1.jpg", "width": 600, "height": 800, "altText": "a"}}
IMAGE_2 = {"image": {"id": "img-2", "url": "https://img.example/2.jpg"}}
VIDEO = {
    "video": {
        "id": "vid-1",
        "url": "https://vid.example/1.mp4",
        "resolutions": [
            {"url": "https://vid.example/1-low.mp4", "width": 640, "height": 360},  # no poster on the first
            {"url": "https://vid.example/1.mp4", "width": 1280, "height": 720, "poster": {"url": "https://vid.example/1.jpg"}},
        ],
    }
}  # fmt: skip


def test_rankings_order_ties_by_helpful_votes_then_newer_and_skip_unpublished(tmp_path: Path) -> None:
    load(
        tmp_path,
        "reviews",
        [
            # Three reviews tied at helpfulness 5: more helpful votes first (7-2 beats 5-0), then newer.
            review("tie-5-0", helpful=5, unhelpful=0, created="2025-01-03T00:00:00.000Z"),
            review("tie-7-2-old", helpful=7, unhelpful=2, created="2025-01-01T00:00:00.000Z"),
            review("tie-7-2-new", helpful=7, unhelpful=2, created="2025-01-02T00:00:00.000Z"),
            review("zero", created="2025-01-04T00:00:00.000Z"),
            review("negative", helpful=1, unhelpful=4),
            review("best", helpful=9, unhelpful=0),
            # Unpublished or deleted: never ranked, however helpful.
            review("pending", helpful=99, status="IN_MODERATION"),
            review("submitted", helpful=99, status="SUBMITTED"),
            review("rejected", helpful=99, status="REJECTED"),
            review("deleted", helpful=99),
            review("other-entity", entity="prod-b", helpful=50),
        ],
    )
    Warehouse(warehouse_resource(tmp_path).path).mark_deleted("reviews", ["deleted"])

    result = materialize(tmp_path, "helpfulness_rankings")

    ranked = rows(
        tmp_path,
        "SELECT review_id, entity_rank, helpfulness, is_top_10 FROM helpfulness_rankings "
        "WHERE entity_id = 'prod-a' ORDER BY entity_rank",
    )
    assert ranked == [
        ("best", 1, 9, True),
        ("tie-7-2-new", 2, 5, True),
        ("tie-7-2-old", 3, 5, True),
        ("tie-5-0", 4, 5, True),
        ("zero", 5, 0, True),
        ("negative", 6, -3, True),
    ]
    site = rows(tmp_path, "SELECT review_id FROM helpfulness_rankings ORDER BY site_rank")
    assert [r[0] for r in site] == ["other-entity", "best", "tie-7-2-new", "tie-7-2-old", "tie-5-0", "zero", "negative"]
    assert metadata(result, "helpfulness_rankings")["dagster/row_count"] == 7


def test_only_the_ten_most_helpful_reviews_per_entity_are_flagged(tmp_path: Path) -> None:
    load(tmp_path, "reviews", [review(f"r{i:02d}", entity="prod-many", helpful=i) for i in range(12)])
    load(tmp_path, "reviews", [review("alone", entity="prod-one", helpful=0, unhelpful=3)])

    materialize(tmp_path, "helpfulness_rankings")

    flagged = rows(tmp_path, "SELECT review_id FROM helpfulness_rankings WHERE is_top_10 ORDER BY site_rank")
    assert [r[0] for r in flagged] == [f"r{i:02d}" for i in range(11, 1, -1)] + ["alone"]
    counts = rows(
        tmp_path, "SELECT entity_id, max(entity_review_count) FROM helpfulness_rankings GROUP BY 1 ORDER BY 1"
    )
    assert counts == [("prod-many", 12), ("prod-one", 1)]


def test_review_media_has_one_row_per_image_and_video_of_published_reviews(tmp_path: Path) -> None:
    load(
        tmp_path,
        "reviews",
        [
            review("several", rating=4, media=[IMAGE, VIDEO, IMAGE_2], author="Dana T."),
            review("pending", media=[IMAGE], status="IN_MODERATION"),
            review("rejected", media=[IMAGE], status="REJECTED"),
            review("plain"),
        ],
    )

    result = materialize(tmp_path, "review_media")

    media = rows(
        tmp_path,
        "SELECT review_id, position, kind, media_id, url, thumbnail_url, width, height, rating, author_name "
        "FROM review_media ORDER BY review_id, position",
    )
    assert media == [
        (
            "several",
            1,
            "image",
            "img-1",
            "https://img.example/1.jpg",
            "https://img.example/1.jpg",
            600,
            800,
            4,
            "Dana T.",
        ),
        (
            "several",
            2,
            "video",
            "vid-1",
            "https://vid.example/1.mp4",
            "https://vid.example/1.jpg",
            640,
            360,
            4,
            "Dana T.",
        ),
        (
            "several",
            3,
            "image",
            "img-2",
            "https://img.example/2.jpg",
            "https://img.example/2.jpg",
            None,
            None,
            4,
            "Dana T.",
        ),
    ]
    first = metadata(result, "review_media")
    assert (first["mode"], first["images"], first["videos"]) == ("full", 2, 1)


def test_review_media_follows_moderation_changes_and_new_reviews_incrementally(tmp_path: Path) -> None:
    load(tmp_path, "reviews", [review("stays", media=[IMAGE]), review("gets-rejected", media=[IMAGE, IMAGE_2])])
    materialize(tmp_path, "review_media")

    load(
        tmp_path,
        "reviews",
        [
            review("gets-rejected", media=[IMAGE, IMAGE_2], status="REJECTED"),
            review("new", media=[VIDEO], created="2025-05-01T00:00:00.000Z"),
        ],
    )
    Warehouse(warehouse_resource(tmp_path).path).mark_deleted("reviews", ["stays"])
    result = materialize(tmp_path, "review_media")

    assert metadata(result, "review_media")["mode"] == "incremental"
    assert rows(tmp_path, "SELECT review_id, kind FROM review_media ORDER BY 1") == [("new", "video")]
    # A full refresh yields the same table.
    materialize(
        tmp_path, "review_media", run_config={"ops": {"wix_marts": {"config": {"review_media_full_refresh": True}}}}
    )
    assert rows(tmp_path, "SELECT review_id, kind FROM review_media ORDER BY 1") == [("new", "video")]


def test_low_rating_alerts_carry_what_the_owner_needs_to_reply(tmp_path: Path) -> None:
    long_body = "Arrived   broken.\n" + "x" * 300
    load(
        tmp_path,
        "reviews",
        [
            review(
                "one-star", rating=1, body=long_body, contact="c-1", author="Sam R.", created="2025-04-01T10:00:00.000Z"
            ),
            review("two-star-pending", rating=2, status="IN_MODERATION", body=None, title="Meh"),
            review("three-star", rating=3),
            review("rejected", rating=1, status="REJECTED"),
        ],
    )

    materialize(tmp_path, "low_rating_alerts")

    alerts = rows(
        tmp_path,
        "SELECT review_id, entity_id, author_contact_id, author_name, rating, excerpt, created_date, dashboard_url "
        "FROM low_rating_alerts ORDER BY review_id",
    )
    assert [a[0] for a in alerts] == ["one-star", "two-star-pending"]
    one = alerts[0]
    assert one[1:5] == ("prod-a", "c-1", "Sam R.", 1)
    assert one[5].startswith("Arrived broken. xxx") and one[5].endswith("…") and len(one[5]) == 140
    assert one[6].isoformat() == "2025-04-01T10:00:00+00:00"
    assert one[7] == f"https://manage.wix.com/dashboard/{SITE_ID}/reviews"
    assert alerts[1][5] == "Meh"  # no body: the title is the excerpt


def test_the_alert_threshold_is_configurable(tmp_path: Path) -> None:
    load(tmp_path, "reviews", [review(f"r{stars}", rating=stars) for stars in range(1, 6)])

    materialize(tmp_path, "low_rating_alerts", alerts=AlertsResource(site_id=SITE_ID, rating_threshold=4))

    assert rows(tmp_path, "SELECT review_id, threshold FROM low_rating_alerts ORDER BY 1") == [
        ("r1", 4),
        ("r2", 4),
        ("r3", 4),
    ]


def test_subscribed_contacts_through_either_field_are_exported_for_pandas(tmp_path: Path) -> None:
    load(
        tmp_path,
        "contacts",
        [
            contact("via-primary", "p@example.org", primary_status="SUBSCRIBED"),
            contact("via-extended", "e@example.org", ext_status="SUBSCRIBED"),
            contact("via-both", "b@example.org", primary_status="SUBSCRIBED", ext_status="SUBSCRIBED"),
            contact("effective", "old@example.org", ext_status="SUBSCRIBED", effective_email="new@example.org"),
            contact("not-set", "n@example.org"),
            contact("pending", "pd@example.org", primary_status="PENDING"),
            contact("opted-out-elsewhere", "o@example.org", primary_status="SUBSCRIBED", ext_status="UNSUBSCRIBED"),
            contact("no-email", None, ext_status="SUBSCRIBED"),
            contact("deleted", "d@example.org", primary_status="SUBSCRIBED"),
            # Same address on two contacts: one row, the most recently updated contact.
            contact("dup-old", "Dup@Example.org", primary_status="SUBSCRIBED", updated="2025-01-01T00:00:00.000Z"),
            contact("dup-new", "dup@example.org", primary_status="SUBSCRIBED", updated="2025-06-01T00:00:00.000Z"),
        ],
    )
    Warehouse(warehouse_resource(tmp_path).path).mark_deleted("contacts", ["deleted"])

    result = materialize(tmp_path, "subscribed_contacts")

    expected = {
        "via-primary": ("p@example.org", "primaryEmail"),
        "via-extended": ("e@example.org", "extendedField"),
        "via-both": ("b@example.org", "both"),
        "effective": ("new@example.org", "extendedField"),
        "dup-new": ("dup@example.org", "primaryEmail"),
    }
    table = rows(tmp_path, "SELECT contact_id, email, subscribed_via FROM subscribed_contacts")
    assert {r[0]: r[1:] for r in table} == expected
    documented = [c.name for c in MARTS["subscribed_contacts"].columns]
    exports = tmp_path / "data" / "exports"
    for frame in (
        pd.read_csv(exports / "subscribed_contacts.csv"),
        pd.read_parquet(exports / "subscribed_contacts.parquet"),
    ):
        assert list(frame.columns) == documented
        assert dict(zip(frame["contact_id"], frame["email"], strict=True)) == {k: v[0] for k, v in expected.items()}
        assert frame["email"].tolist() == sorted(frame["email"])  # in email order, stable between exports
    meta = metadata(result, "subscribed_contacts")
    assert meta["export_csv"] == str(exports.resolve() / "subscribed_contacts.csv")
    assert not list(exports.glob(".*.tmp"))  # temp files were swapped in, none left behind


def test_rating_summaries_count_average_and_break_down_ratings_and_review_stars(tmp_path: Path) -> None:
    load(
        tmp_path,
        "ratings",
        [
            rating("o1", "prod-a", 5),
            rating("o2", "prod-a", 4),
            rating("o3", "prod-a", 4),
            rating("o4", "prod-a", 1),
            rating("gone", "prod-a", 1),
            rating("c1", "prod-a", 2, attribute="comfort"),
        ],
    )
    Warehouse(warehouse_resource(tmp_path).path).mark_deleted("ratings", ["gone"])
    load(
        tmp_path,
        "reviews",
        [review("r1", rating=5), review("r2", rating=3), review("r3", rating=1, status="IN_MODERATION")],
    )

    result = materialize(tmp_path, "rating_summaries")

    summaries = rows(
        tmp_path,
        "SELECT source, rating_group, entity_id, attribute_name, rating_count, average_rating, "
        "count_1, count_2, count_3, count_4, count_5 FROM rating_summaries ORDER BY source, attribute_name",
    )
    assert summaries == [
        ("ratings", "stores", "prod-a", "comfort", 1, 2.0, 0, 1, 0, 0, 0),
        ("ratings", "stores", "prod-a", "overall", 4, 3.5, 1, 0, 0, 2, 1),
        ("reviews", None, "prod-a", "overall", 2, 4.0, 0, 0, 1, 0, 1),
    ]
    assert metadata(result, "rating_summaries")["dagster/row_count"] == 3


def test_every_mart_has_the_documented_columns_and_lands_in_the_analysts_snapshot(tmp_path: Path) -> None:
    load(tmp_path, "reviews", [review("r1", rating=1, media=[IMAGE])])
    load(tmp_path, "ratings", [rating("o1", "prod-a", 5)])
    load(tmp_path, "contacts", [contact("c1", "c@example.org", primary_status="SUBSCRIBED")])

    result = materialize(tmp_path, *MARTS)

    assert result.success
    with duckdb.connect(str(tmp_path / "data" / "analytics.duckdb"), read_only=True) as con:
        for mart in MARTS.values():
            documented = [(c.name, c.sql_type.replace("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE")) for c in mart.columns]
            assert table_columns(con, mart.name) == documented, mart.name
            # rating_summaries: one row from the rating, one from the review's stars.
            expected = 2 if mart.name == "rating_summaries" else 1
            assert con.execute(f"SELECT count(*) FROM {mart.name}").fetchall()[0][0] == expected, mart.name


def _defs() -> dg.Definitions:
    resources = {"wix": WixApiResource(), "warehouse": WarehouseResource(), "alerts": AlertsResource()}
    return dg.Definitions(assets=[*pull_assets, *mart_assets], resources=resources)


def test_marts_are_in_their_group_in_the_warehouse_pool_and_depend_on_the_raw_assets() -> None:
    defs = _defs()
    graph = defs.resolve_asset_graph()
    specs = [s for a in mart_assets for s in a.specs]
    assert {s.key.to_user_string() for s in specs} == set(MARTS)
    for spec in specs:
        node = graph.get(spec.key)
        assert spec.group_name == MARTS_GROUP
        assert node.automation_condition is not None
        assert {"duckdb", "sql"} <= set(spec.kinds)
        assert spec.description
    assert {k.to_user_string() for k in graph.get(dg.AssetKey("rating_summaries")).parent_keys} == {
        "ratings",
        "reviews",
    }
    assert {k.to_user_string() for k in graph.get(dg.AssetKey("subscribed_contacts")).parent_keys} == {"contacts"}
    for assets_def in mart_assets:
        for op in assets_def.node_def.iterate_op_defs():
            assert op.pool == "duckdb_warehouse"
    assert marts_automation_sensor.default_status == dg.DefaultSensorStatus.RUNNING


def _requested(result: EvaluateAutomationConditionsResult) -> set[str]:
    return {mart for mart in MARTS if result.get_num_requested(dg.AssetKey(mart))}


def test_marts_are_requested_after_their_raw_inputs_are_updated() -> None:
    assets = _defs()
    with dg.instance_for_test() as instance:
        # Nothing is requested while the raw tables have never been loaded.
        baseline = dg.evaluate_automation_conditions(defs=assets, instance=instance)
        assert baseline.total_requested == 0
        for raw in ("contacts", "reviews", "ratings", "review_requests"):
            instance.report_runless_asset_event(dg.AssetMaterialization(raw))
        first = dg.evaluate_automation_conditions(defs=assets, instance=instance, cursor=baseline.cursor)
        assert _requested(first) == set(MARTS)
        for mart in MARTS:  # as if the requested run succeeded
            instance.report_runless_asset_event(dg.AssetMaterialization(mart))

        quiet = dg.evaluate_automation_conditions(defs=assets, instance=instance, cursor=first.cursor)
        assert quiet.total_requested == 0

        instance.report_runless_asset_event(dg.AssetMaterialization("ratings"))
        after_ratings = dg.evaluate_automation_conditions(defs=assets, instance=instance, cursor=quiet.cursor)
        assert _requested(after_ratings) == {"rating_summaries"}


@pytest.mark.parametrize("threshold", [7])
def test_an_impossible_threshold_is_refused(tmp_path: Path, threshold: int) -> None:
    load(tmp_path, "reviews", [review("r1")])
    with pytest.raises(ValueError, match="threshold"):
        dg.materialize(
            mart_assets,
            selection=["low_rating_alerts"],
            resources={"warehouse": warehouse_resource(tmp_path), "alerts": AlertsResource(rating_threshold=threshold)},
        )


# --- issue 4 follow-up: under 2 s on 1M reviews without changing what the marts say ---------------------------


def test_exact_ties_are_ranked_by_id_within_the_entity_and_site_wide(tmp_path: Path) -> None:
    same = {"helpful": 3, "unhelpful": 1, "created": "2025-02-02T00:00:00.000Z"}
    load(
        tmp_path,
        "reviews",
        [
            review("tie-c", **same),
            review("tie-a", **same),
            review("tie-b", entity="prod-b", **same),
            review("above", helpful=3, unhelpful=0),
            review("below", helpful=2, unhelpful=0, created="2025-09-09T00:00:00.000Z"),
        ],
    )

    materialize(tmp_path, "helpfulness_rankings")

    site = rows(tmp_path, "SELECT review_id, site_rank, entity_rank FROM helpfulness_rankings ORDER BY site_rank")
    assert site == [("above", 1, 1), ("tie-a", 2, 2), ("tie-b", 3, 1), ("tie-c", 4, 3), ("below", 5, 4)]


def test_rankings_are_skipped_when_no_review_changed_and_rebuilt_after_a_deletion(tmp_path: Path) -> None:
    records = [review(f"r{i}", entity=f"prod-{i % 2}", helpful=i) for i in range(6)]
    load(tmp_path, "reviews", records)
    assert metadata(materialize(tmp_path, "helpfulness_rankings"), "helpfulness_rankings")["mode"] == "full"

    load(tmp_path, "reviews", records)  # the same records again: no row is rewritten
    again = metadata(materialize(tmp_path, "helpfulness_rankings"), "helpfulness_rankings")
    assert (again["mode"], again["dagster/row_count"]) == ("unchanged", 6)

    # Marking deleted leaves _loaded_at alone; the published count gives it away.
    Warehouse(warehouse_resource(tmp_path).path).mark_deleted("reviews", ["r5"])
    after = metadata(materialize(tmp_path, "helpfulness_rankings"), "helpfulness_rankings")
    assert (after["mode"], after["dagster/row_count"]) == ("full", 5)
    ranked = rows(tmp_path, "SELECT review_id, entity_rank, site_rank FROM helpfulness_rankings ORDER BY site_rank")
    assert ranked == [("r4", 1, 1), ("r3", 1, 2), ("r2", 2, 3), ("r1", 2, 4), ("r0", 3, 5)]

    forced = materialize(
        tmp_path,
        "helpfulness_rankings",
        run_config={"ops": {"wix_marts": {"config": {"helpfulness_rankings_full_refresh": True}}}},
    )
    assert metadata(forced, "helpfulness_rankings")["mode"] == "full"
    assert rows(tmp_path, "SELECT review_id, entity_rank, site_rank FROM helpfulness_rankings ORDER BY 3") == ranked


def test_review_media_drops_deleted_reviews_and_matches_a_full_rebuild(tmp_path: Path) -> None:
    load(tmp_path, "reviews", [review("a", media=[IMAGE]), review("b", media=[IMAGE, VIDEO]), review("c")])
    materialize(tmp_path, "review_media")
    quiet = metadata(materialize(tmp_path, "review_media"), "review_media")
    assert (quiet["mode"], quiet["reviews_reread"], quiet["dagster/row_count"]) == ("unchanged", 0, 3)

    Warehouse(warehouse_resource(tmp_path).path).mark_deleted("reviews", ["b"])  # no _loaded_at change
    dropped = metadata(materialize(tmp_path, "review_media"), "review_media")
    assert (dropped["mode"], dropped["reviews_reread"], dropped["rows_deleted"]) == ("incremental", 0, 2)

    load(tmp_path, "reviews", [review("c", media=[VIDEO]), review("d", media=[IMAGE_2, IMAGE])])
    grown = metadata(materialize(tmp_path, "review_media"), "review_media")
    assert (grown["mode"], grown["reviews_reread"]) == ("incremental", 2)
    incremental = rows(tmp_path, "SELECT * FROM review_media ORDER BY review_id, position")
    materialize(
        tmp_path, "review_media", run_config={"ops": {"wix_marts": {"config": {"review_media_full_refresh": True}}}}
    )
    assert rows(tmp_path, "SELECT * FROM review_media ORDER BY review_id, position") == incremental
    assert [(r[0], r[1]) for r in incremental] == [("a", 1), ("c", 1), ("d", 1), ("d", 2)]


def test_subscribed_via_tells_a_missing_primary_status_from_a_subscribed_one(tmp_path: Path) -> None:
    # Without primaryEmail.subscriptionStatus the merged typed column falls back to the extended field, so
    # "SUBSCRIBED in both typed columns" must not be read as "subscribed through both fields".
    load(
        tmp_path,
        "contacts",
        [
            contact("ext-only", "x@example.org", primary_status=None, ext_status="SUBSCRIBED"),
            contact("both", "b@example.org", primary_status="SUBSCRIBED", ext_status="SUBSCRIBED"),
            contact("primary-no-ext", "p@example.org", primary_status="SUBSCRIBED", ext_status=None),
            contact("ext-out", "o@example.org", primary_status=None, ext_status="UNSUBSCRIBED"),
            contact("primary-pending-ext-in", "q@example.org", primary_status="PENDING", ext_status="SUBSCRIBED"),
        ],
    )

    materialize(tmp_path, "subscribed_contacts")

    assert dict(rows(tmp_path, "SELECT contact_id, subscribed_via FROM subscribed_contacts")) == {
        "ext-only": "extendedField",
        "both": "both",
        "primary-no-ext": "primaryEmail",
        "primary-pending-ext-in": "extendedField",
    }


def test_contacts_loaded_before_the_extended_status_column_are_backfilled(tmp_path: Path) -> None:
    records = [
        contact("via-extended", "e@example.org", ext_status="SUBSCRIBED"),
        contact("no-ext", "n@example.org", primary_status="SUBSCRIBED", ext_status=None),
        contact("opted-out", "o@example.org", primary_status="SUBSCRIBED", ext_status="UNSUBSCRIBED"),
    ]
    load(tmp_path, "contacts", records)
    path = warehouse_resource(tmp_path).path
    as_loaded = rows(tmp_path, "SELECT id, email_subscription_status_extended FROM contacts ORDER BY id")
    assert as_loaded == [("no-ext", None), ("opted-out", "UNSUBSCRIBED"), ("via-extended", "SUBSCRIBED")]
    # Turn the file back into a schema-1 warehouse: the column gone, the migration not applied.
    with duckdb.connect(path) as con:
        con.execute("ALTER TABLE contacts DROP COLUMN email_subscription_status_extended")
        con.execute("DELETE FROM _schema_version WHERE version > 1")

    Warehouse(path).ensure_schema()  # what the next run's connection does

    assert rows(tmp_path, "SELECT id, email_subscription_status_extended FROM contacts ORDER BY id") == as_loaded
    load(tmp_path, "contacts", records)  # unchanged records: nothing rewritten, nothing different
    assert rows(tmp_path, "SELECT id, email_subscription_status_extended FROM contacts ORDER BY id") == as_loaded
    materialize(tmp_path, "subscribed_contacts")
    assert rows(tmp_path, "SELECT contact_id, subscribed_via FROM subscribed_contacts ORDER BY 1") == [
        ("no-ext", "primaryEmail"),
        ("via-extended", "extendedField"),
    ]


def test_reviews_loaded_before_the_media_column_are_backfilled(tmp_path: Path) -> None:
    records = [review("with-media", media=[IMAGE, VIDEO]), review("plain")]
    load(tmp_path, "reviews", records)
    path = warehouse_resource(tmp_path).path
    media_sql = "SELECT id, media_count, CAST(media AS VARCHAR) FROM reviews ORDER BY id"
    as_loaded = rows(tmp_path, media_sql)
    assert as_loaded[0] == ("plain", 0, None)
    assert as_loaded[1][:2] == ("with-media", 2)
    assert json.loads(as_loaded[1][2]) == [IMAGE, VIDEO]  # the array as received
    materialize(tmp_path, "review_media")
    built = rows(tmp_path, "SELECT * FROM review_media ORDER BY review_id, position")
    assert [(r[0], r[1]) for r in built] == [("with-media", 1), ("with-media", 2)]
    # Turn the file back into a schema-2 warehouse: the column gone, the migration not applied.
    with duckdb.connect(path) as con:
        con.execute("ALTER TABLE reviews DROP COLUMN media")
        con.execute("DELETE FROM _schema_version WHERE version > 2")

    Warehouse(path).ensure_schema()  # what the next run's connection does

    assert rows(tmp_path, media_sql) == as_loaded
    load(tmp_path, "reviews", records)  # unchanged records: nothing rewritten, nothing different
    assert rows(tmp_path, media_sql) == as_loaded
    materialize(tmp_path, "review_media", run_config=_MEDIA_FULL_REFRESH)
    assert rows(tmp_path, "SELECT * FROM review_media ORDER BY review_id, position") == built


_MEDIA_FULL_REFRESH = {"ops": {"wix_marts": {"config": {"review_media_full_refresh": True}}}}


def test_building_review_media_leaves_the_connection_settings_as_they_were(tmp_path: Path) -> None:
    load(tmp_path, "reviews", [review("with-media", media=[IMAGE])])
    with Warehouse(warehouse_resource(tmp_path).path).connect() as con:
        assert build_review_media(con).rows == 1
        assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchall() == [(True,)]
