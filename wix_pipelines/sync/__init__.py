"""Two-way sync between Wix and an external system (no Dagster): mappings, diffs, echo ledger, conflicts."""

from .config import SyncConfig, load_sync_config
from .engine import SyncEngine, SyncReport, is_site_member
from .setup import deletions, diff_markdown, initial_setup
from .store import SyncStore, ensure_sync_tables

__all__ = [
    "SyncConfig",
    "SyncEngine",
    "SyncReport",
    "SyncStore",
    "deletions",
    "diff_markdown",
    "ensure_sync_tables",
    "initial_setup",
    "is_site_member",
    "load_sync_config",
]
