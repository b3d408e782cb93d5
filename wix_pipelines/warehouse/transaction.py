"""Explicit transactions on a DuckDB connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, or ROLLBACK on any exception.

    Every write function of this package runs in one of these, so the connection it is given must be in
    autocommit mode (not inside a caller's transaction): DuckDB has no nested transactions.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        # BaseException too: a KeyboardInterrupt mid-batch must not leave the transaction open on a
        # connection the caller may reuse.
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
