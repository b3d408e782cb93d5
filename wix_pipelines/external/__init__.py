"""The external-system side of the two-way sync: the adapter contract and an HTTP adapter (no Dagster)."""

from .contract import (
    KINDS,
    Change,
    ChangeBatch,
    DuplicateRecordError,
    ExternalAdapter,
    ExternalRecord,
    ExternalSystemError,
    Kind,
)
from .http import HttpExternalAdapter

__all__ = [
    "KINDS",
    "Change",
    "ChangeBatch",
    "DuplicateRecordError",
    "ExternalAdapter",
    "ExternalRecord",
    "ExternalSystemError",
    "HttpExternalAdapter",
    "Kind",
]
