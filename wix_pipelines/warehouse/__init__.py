"""The DuckDB warehouse: schema, set-based upserts, watermarks, deletions and the analyst snapshot.

A plain library (no Dagster): `wix_pipelines.defs` wires it into assets. Start with `Warehouse`.
"""

from .connection import Warehouse, open_connection
from .deletions import IdReconciler, ReconcileResult, mark_deleted, mark_merged, reconcile_ids
from .errors import (
    MalformedPageError,
    MalformedRecordsError,
    ReconciliationAbortedError,
    RejectedRecord,
    SchemaVersionError,
    WarehouseError,
    WarehouseLockedError,
)
from .schema import SCHEMA_VERSION, ensure_schema
from .snapshot import SnapshotResult, publish_snapshot, publish_snapshot_from
from .tables import STREAMS, TABLES, describe_tables, table_spec
from .upserts import RowGroupWriter, StagedBatch, StagingArea, UpsertResult, apply_staged, upsert_batch
from .watermarks import ADVANCE_TO_MAX_CREATED, Watermark, get_watermark, max_created_date, set_watermark

__all__ = [
    "ADVANCE_TO_MAX_CREATED",
    "SCHEMA_VERSION",
    "STREAMS",
    "TABLES",
    "IdReconciler",
    "MalformedPageError",
    "MalformedRecordsError",
    "ReconcileResult",
    "ReconciliationAbortedError",
    "RejectedRecord",
    "RowGroupWriter",
    "SchemaVersionError",
    "SnapshotResult",
    "StagedBatch",
    "StagingArea",
    "UpsertResult",
    "Warehouse",
    "WarehouseError",
    "WarehouseLockedError",
    "Watermark",
    "apply_staged",
    "describe_tables",
    "ensure_schema",
    "get_watermark",
    "mark_deleted",
    "mark_merged",
    "max_created_date",
    "open_connection",
    "publish_snapshot",
    "publish_snapshot_from",
    "reconcile_ids",
    "set_watermark",
    "table_spec",
    "upsert_batch",
]
