from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from wix_pipelines.warehouse import Warehouse


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    return Warehouse(tmp_path / "nested" / "warehouse.duckdb", lock_timeout=5)


class Holder:
    """A separate Python process that opens a DuckDB file and keeps it open until told to stop."""

    def __init__(self, path: Path, *, read_only: bool, hold_seconds: float = 60) -> None:
        code = textwrap.dedent(
            f"""
            import sys, time, duckdb
            con = duckdb.connect({str(path)!r}, read_only={read_only!r})
            rows = con.execute("SELECT count(*) FROM contacts").fetchall()[0][0] if {read_only!r} else -1
            print(f"ready {{rows}}", flush=True)
            deadline = time.monotonic() + {hold_seconds}
            while time.monotonic() < deadline:
                line = sys.stdin.readline().strip()
                if line == "count":
                    print(con.execute("SELECT count(*) FROM contacts").fetchall()[0][0], flush=True)
                elif line in ("", "stop"):
                    break
            con.close()
            """
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline().split()
        assert ready and ready[0] == "ready", ready
        self.rows_at_open = int(ready[1])

    def ask_count(self) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("stop\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)


@pytest.fixture
def hold_open() -> Iterator[type[Holder]]:
    started: list[Holder] = []

    class Tracked(Holder):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            started.append(self)

    yield Tracked
    for holder in started:
        holder.stop()
