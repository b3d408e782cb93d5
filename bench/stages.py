"""One measured stage, run as its own process: `python bench/stages.py STAGE PARAMS.json OUT.json`.

`bench/run.py` starts this once per stage so that peak RSS (the parent reads it from `wait4`) belongs to that
stage alone, and so that one stage's imports or leftovers cannot speed up or slow down the next. Timings taken
here exclude the interpreter start and imports (the parent reports those in the process's wall time):

* raw: httpx paging of the four endpoints, JSON parsed with orjson, nothing stored (the ceiling of any loader);
* ours: `dg.materialize(pull_assets, ...)` against the emulator, the real assets with an ephemeral instance;
* dlt: dlt's `rest_api` source loading contacts into DuckDB with merge on `id` and the parquet loader format;
* derived: one Dagster run of the derived assets (the marts) on the warehouse the stages above loaded.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STARTED = time.monotonic()

CONTACTS_PAGE = 1000  # Query Contacts' maximum page (SPEC.md §3.5), what our client asks for
CURSOR_PAGE = 100  # reviews, ratings, review requests

# stream -> (query path, items key, extra top-level body)
ENDPOINTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "contacts": ("/contacts/v4/contacts/query", "contacts", {}),
    "reviews": ("/reviews/v1/reviews/query", "reviews", {"returnPrivateReviews": True}),
    "ratings": ("/ratings/v1/ratings/query", "ratings", {}),
    "review_requests": ("/reviews/v2/review-requests/query", "reviewRequests", {}),
}
SORT = [{"fieldName": "createdDate", "order": "ASC"}]


def _clock() -> tuple[float, float]:
    return time.monotonic(), time.process_time()


def _since(start: tuple[float, float]) -> dict[str, float]:
    wall, cpu = _clock()
    return {"seconds": round(wall - start[0], 3), "cpu_seconds": round(cpu - start[1], 3)}


# --- 1. raw ---------------------------------------------------------------------------------------------------


def stage_raw(params: dict[str, Any]) -> dict[str, Any]:
    """Page every stream with a bare httpx client and orjson; keep nothing but counts.

    Contacts use plain offset paging (`paging: {limit: 1000, offset}`, sorted by createdDate), the simplest
    loop a hand-written fetcher would use and the one dlt uses too; our client pages by a createdDate keyset
    instead (no deep offsets over a set that changes while it is read). Cursor streams follow
    `cursors.next` 100 at a time, with the follow-up bodies carrying only the cursor, as Wix requires.
    """
    import httpx
    import orjson

    headers = {"Authorization": params["api_key"], "wix-site-id": params["site_id"]}
    streams: dict[str, Any] = {}
    with httpx.Client(base_url=params["base_url"], headers=headers, timeout=120.0) as client:

        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = client.post(path, content=orjson.dumps(body), headers={"content-type": "application/json"})
            response.raise_for_status()
            return dict(orjson.loads(response.content))

        for stream in params["streams"]:
            path, key, extra = ENDPOINTS[stream]
            start = _clock()
            records = requests = 0
            if stream == "contacts":
                offset = 0
                while True:
                    data = post(path, {"query": {"sort": SORT, "paging": {"limit": CONTACTS_PAGE, "offset": offset}}})
                    requests += 1
                    items = data.get(key) or []
                    records += len(items)
                    offset += len(items)
                    total = (data.get("pagingMetadata") or {}).get("total")
                    if not items or (total is not None and offset >= total):
                        break
            else:
                body: dict[str, Any] = {"query": {"sort": SORT, "cursorPaging": {"limit": CURSOR_PAGE}}, **extra}
                while True:
                    data = post(path, body)
                    requests += 1
                    records += len(data.get(key) or [])
                    meta = data.get("pagingMetadata") or data.get("metadata") or {}
                    cursor = (meta.get("cursors") or {}).get("next")
                    if not cursor or meta.get("hasNext") is False:
                        break
                    body = {"query": {"cursorPaging": {"cursor": cursor, "limit": CURSOR_PAGE}}, **extra}
            streams[stream] = {"records": records, "client_requests": requests, **_since(start)}
    return {"streams": streams}


# --- 2, 4, 5. ours --------------------------------------------------------------------------------------------


def stage_ours(params: dict[str, Any]) -> dict[str, Any]:
    """Materialize the real pull assets, exactly as a run from the UI would (ephemeral instance, in process)."""
    import_start = _clock()
    import dagster as dg

    from wix_pipelines.defs.ingest.assets import pull_assets
    from wix_pipelines.defs.resources import WarehouseResource, WixApiResource

    imports = _since(import_start)
    resources = {
        "wix": WixApiResource(
            base_url=params["base_url"],
            api_key=params["api_key"],
            site_id=params["site_id"],
            rate_limit_per_minute=0,  # the emulator has no rate limit; a real site gets the default 200/min
        ),
        "warehouse": WarehouseResource(path=params["warehouse"], snapshot_path=params["snapshot"]),
    }
    streams = params["streams"]
    instance = dg.DagsterInstance.ephemeral()
    start = _clock()
    result = dg.materialize(pull_assets, resources=resources, selection=streams, instance=instance)
    materialize = _since(start)
    if not result.success:
        raise RuntimeError(f"the run failed: {result.run_id}")

    # Per-step wall time from the event log (the asset body plus its checks and the snapshot publish).
    step_started: dict[str, float] = {}
    step_seconds: dict[str, float] = {}
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            step_started[event.step_key] = entry.timestamp
        elif event.event_type_value == "STEP_SUCCESS":
            step_seconds[event.step_key] = round(entry.timestamp - step_started[event.step_key], 3)

    per_stream: dict[str, Any] = {}
    for event in result.get_asset_materialization_events():
        stream = event.asset_key.to_user_string()
        metadata = {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}
        per_stream[stream] = {
            key: metadata.get(key)
            for key in (
                "mode",
                "fetched",
                "inserted",
                "updated",
                "unchanged",
                "deleted",
                "rejected",
                "requests",
                "pages",
                "seconds_in_asset",
                "dagster/row_count",
                "watermark_before",
                "watermark_after",
            )
        }
        per_stream[stream]["step_seconds"] = step_seconds.get(stream)
    return {"imports": imports, "materialize": materialize, "streams": per_stream}


# --- 3. dlt ---------------------------------------------------------------------------------------------------


def stage_dlt(params: dict[str, Any]) -> dict[str, Any]:
    """dlt's `rest_api` source: POST body paging (offset/limit in the JSON body), merge on id, DuckDB, parquet.

    This is the configuration a user would write from dlt's docs for a POST query endpoint; dlt's defaults are
    kept otherwise (the issue measured its default jsonl loader at ~18 GB peak on 100k contacts).
    """
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    import_start = _clock()
    import dlt
    from dlt.sources.rest_api import rest_api_source

    imports = _since(import_start)
    source = rest_api_source(
        {
            "client": {
                "base_url": params["base_url"],
                "headers": {"Authorization": params["api_key"], "wix-site-id": params["site_id"]},
            },
            "resources": [
                {
                    "name": "contacts",
                    "primary_key": "id",
                    "write_disposition": "merge",
                    "endpoint": {
                        "path": "contacts/v4/contacts/query",
                        "method": "POST",
                        "json": {"query": {"sort": SORT}},
                        "data_selector": "contacts",
                        "paginator": {
                            "type": "offset",
                            "limit": CONTACTS_PAGE,
                            "offset_body_path": "query.paging.offset",
                            "limit_body_path": "query.paging.limit",
                            "total_path": "pagingMetadata.total",
                        },
                    },
                }
            ],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="wix_bench_dlt",
        pipelines_dir=params["dlt_dir"],
        destination=dlt.destinations.duckdb(params["dlt_database"]),
        dataset_name="wix",
    )
    start = _clock()
    pipeline.run(source, loader_file_format="parquet")
    run = _since(start)
    steps: dict[str, float] = {}
    trace = pipeline.last_trace
    for step in trace.steps if trace else []:
        if step.finished_at is not None and step.started_at is not None:
            steps[step.step] = round((step.finished_at - step.started_at).total_seconds(), 3)
    with pipeline.sql_client() as sql:
        rows = sql.execute_sql("SELECT count(*), count(DISTINCT id) FROM contacts")[0]
    return {
        "imports": imports,
        "streams": {"contacts": {"records": int(rows[0]), "distinct_ids": int(rows[1]), **run}},
        "steps": steps,
    }


# --- 6. derived -----------------------------------------------------------------------------------------------


def stage_derived(params: dict[str, Any]) -> dict[str, Any]:
    """Materialize the derived assets (the marts of `wix_pipelines.defs.marts`) on the loaded warehouse.

    (`bench/derived.py` is the marts' own, deeper bench on 1M seeded rows; this stage times one Dagster run of
    every mart on the data this bench just pulled.)
    """
    import_start = _clock()
    import dagster as dg
    import duckdb

    from wix_pipelines.defs.alerts import AlertsResource
    from wix_pipelines.defs.marts import mart_assets
    from wix_pipelines.defs.resources import WarehouseResource

    imports = _since(import_start)
    with duckdb.connect(params["warehouse"], read_only=True) as con:
        input_rows = {
            table: int(con.execute(f"SELECT count(*) FROM main.{table} WHERE deleted_at IS NULL").fetchall()[0][0])
            for table in ("contacts", "reviews", "ratings", "review_requests")
        }
    resources = {
        "warehouse": WarehouseResource(path=params["warehouse"], snapshot_path=params["snapshot"]),
        "alerts": AlertsResource(site_id=params["site_id"]),  # no channel configured: nothing is delivered
    }
    instance = dg.DagsterInstance.ephemeral()
    start = _clock()
    result = dg.materialize(mart_assets, resources=resources, instance=instance)
    run = _since(start)
    if not result.success:
        raise RuntimeError(f"the marts run failed: {result.run_id}")
    marts: dict[str, Any] = {}
    for event in result.get_asset_materialization_events():
        metadata = {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}
        marts[event.asset_key.to_user_string()] = {
            "rows": metadata.get("dagster/row_count"),
            "mode": metadata.get("mode"),
            "seconds_in_sql": metadata.get("seconds_in_sql"),
        }
    sql_s = round(sum(m["seconds_in_sql"] or 0 for m in marts.values()), 3)
    return {
        "imports": imports,
        "run": run,
        "records": sum(input_rows.values()),
        "input_rows": input_rows,
        "work_s": sql_s,
        "marts": marts,
    }


STAGES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "raw": stage_raw,
    "ours": stage_ours,
    "dlt": stage_dlt,
    "derived": stage_derived,
}


def _vm_hwm_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def main(argv: list[str]) -> int:
    stage, params_path, out_path = argv
    params = json.loads(Path(params_path).read_text())
    result = STAGES[stage](params)
    result["in_process_seconds"] = round(time.monotonic() - STARTED, 3)
    result["vm_hwm_mb"] = _vm_hwm_mb()
    Path(out_path).write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
