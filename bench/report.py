"""The bench's results: rows, target checks, and the markdown written next to the JSON."""

from __future__ import annotations

import math
from typing import Any

PAGE_SIZES = {"contacts": 1000, "reviews": 100, "ratings": 100, "review_requests": 100}


def _num(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 100):
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def rate(records: int | None, seconds: float | None) -> float | None:
    if not records or not seconds:
        return None
    return round(records / seconds, 1)


def stage_table(rows: list[dict[str, Any]]) -> str:
    header = (
        "| # | stage | records | wall s | CPU s | work s | records/s | peak RSS MB | requests | x raw | x dlt |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [header]
    for row in rows:
        if row.get("todo"):
            lines.append(f"| {row['n']} | {row['label']} | TODO: {row['todo']} | | | | | | | | |")
            continue
        if row.get("error"):
            lines.append(f"| {row['n']} | {row['label']} | FAILED: {row['error']} | | | | | | | | |")
            continue
        lines.append(
            f"| {row['n']} | {row['label']} | {_num(row.get('records'))} | {_num(row.get('wall_s'))} "
            f"| {_num(row.get('cpu_s'))} | {_num(row.get('work_s'), 2)} | {_num(row.get('records_per_s'), 0)} "
            f"| {_num(row.get('peak_rss_mb'), 0)} | {_num(row.get('requests'))} "
            f"| {_ratio(row.get('x_raw'))} | {_ratio(row.get('x_dlt'))} |"
        )
    return "\n".join(lines)


def requests_table(per_stream: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| stream | records | page | raw | full (target ≤) | incremental: new+changed (target ≤) "
        "| no change after full (≤ 1) | no change after incr. (≤ 1) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for stream, s in per_stream.items():

        def cell(key: str, target_key: str | None = None, s: dict[str, Any] = s) -> str:
            value = s.get(key)
            if value is None:
                return "—"
            target = s.get(target_key) if target_key else 1
            mark = "" if target is None else (" ✅" if value <= target else " ❌")
            return f"{value:,}" + (f" ({target:,})" if target_key and target is not None else "") + mark

        lines.append(
            f"| {stream} | {_num(s.get('records'))} | {PAGE_SIZES[stream]} | {_num(s.get('raw'))} "
            f"| {cell('full', 'full_target')} | {_num(s.get('changed'))}: {cell('incremental', 'incremental_target')} "
            f"| {cell('nochange_full')} | {cell('nochange')} |"
        )
    return "\n".join(lines)


def full_target(records: int, stream: str) -> int:
    return math.ceil(records / PAGE_SIZES[stream]) + 2


def incremental_target(changed: int, stream: str) -> int:
    return math.ceil(changed / PAGE_SIZES[stream]) + 2


def targets_table(targets: list[dict[str, Any]]) -> str:
    lines = ["| target | measured | met |", "|---|---|---|"]
    for t in targets:
        met = {True: "✅", False: "❌", None: "—"}[t["met"]]
        lines.append(f"| {t['target']} | {t['measured']} | {met} |")
    return "\n".join(lines)
