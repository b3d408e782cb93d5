"""The outside check: the official Wix JavaScript SDK drives our emulator, every step must pass.

`conformance.mjs` (run with node) uses `@wix/sdk` and the `@wix/auto_sdk_*` modules pinned in
`package-lock.json`, with a custom `fetch` that sends `https://www.wixapis.com/...` to the emulator (SPEC.md
§2.10). It prints one JSON line per step; this test starts the emulator, runs the script, and fails naming
every step that failed and why. It then checks, from the emulator's own request stats, that the SDK's calls
arrived on the canonical public paths of SPEC.md §1 (not the `/_api` or legacy aliases).

Needs node and the SDK: `npm ci --prefix wix_pipelines_tests/sdk_conformance` (the Makefile runs it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wix_pipelines.emulator.server import RunningEmulator

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "conformance.mjs"
NODE = shutil.which("node")
SDK_INSTALLED = (HERE / "node_modules" / "@wix" / "sdk" / "package.json").is_file()
INSTALL_HINT = "npm ci --prefix wix_pipelines_tests/sdk_conformance"
RUN_TIMEOUT_S = 180
RUN_TAG = "pytest"  # WIX_RUN_TAG: the script puts it in the names and entity ids it creates

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed: the official-SDK conformance test needs it"),
    pytest.mark.skipif(
        not SDK_INSTALLED,
        reason=f"the official Wix SDK is not installed under {HERE.name}/node_modules: run `{INSTALL_HINT}`",
    ),
]

# Every step conformance.mjs runs, in order. A step missing from the output is a failure too.
EXPECTED_STEPS = [
    "contacts.createContact",
    "contacts.createContactDuplicateEmail",
    "contacts.getContact",
    "contacts.updateContact",
    "contacts.updateContactStaleRevision",
    "contacts.createContactsForPaging",
    "contacts.listContacts",
    "contacts.queryContactsFilterSort",
    "contacts.queryContactsOffsetPaging",
    "contacts.queryContactsPagingAllContacts",
    "extendedFields.findOrCreateNew",
    "extendedFields.findOrCreateExisting",
    "extendedFields.listExtendedFields",
    "extendedFields.valueOnContact",
    "reviews.createReview",
    "reviews.getReview",
    "reviews.updateReview",
    "reviews.updateReviewStaleRevision",
    "reviews.createReviewsForPaging",
    "reviews.queryReviewsFilterSortCursorPaging",
    "reviews.queryReviewsPagingAllReviews",
    "reviews.updateModerationStatus",
    "reviews.createReviewDuplicate",
    "reviews.deleteReview",
    "reviewRequests.createWithItems",
    "reviewRequests.createWithOrder",
    "reviewRequests.createWithOrderAndItems",
    "reviewRequests.eitherOrderOrItemsRequired",
    "reviewRequests.orderNotFound",
    "reviewRequests.orderIsEmpty",
    "reviewRequests.getReviewRequest",
    "reviewRequests.queryReviewRequests",
    "auth.wrongApiKeyRejected",
    "contacts.deleteContact",
]

# The canonical public routes (SPEC.md §1) the SDK must use for the methods the script calls.
CANONICAL_ROUTES = {
    ("POST", "/contacts/v4/contacts"),
    ("GET", "/contacts/v4/contacts"),
    ("GET", "/contacts/v4/contacts/{id}"),
    ("PATCH", "/contacts/v4/contacts/{id}"),
    ("DELETE", "/contacts/v4/contacts/{id}"),
    ("POST", "/contacts/v4/contacts/query"),
    ("POST", "/contacts/v4/extended-fields"),
    ("GET", "/contacts/v4/extended-fields"),
    ("POST", "/reviews/v1/reviews"),
    ("GET", "/reviews/v1/reviews/{id}"),
    ("PATCH", "/reviews/v1/reviews/{id}"),
    ("DELETE", "/reviews/v1/reviews/{id}"),
    ("POST", "/reviews/v1/reviews/query"),
    ("PATCH", "/reviews/v1/reviews/{id}/moderate"),
    ("POST", "/reviews/v2/review-requests"),
    ("GET", "/reviews/v2/review-requests/{id}"),
    ("POST", "/reviews/v2/review-requests/query"),
}
_LITERAL_SEGMENTS = {"query", "moderate"}


def canonical_route(method: str, path: str) -> tuple[str, str] | None:
    """The canonical route a concrete path is an instance of, or None when it is not one of them."""
    for route_method, template in CANONICAL_ROUTES:
        if route_method != method:
            continue
        pattern = "^" + re.escape(template).replace(re.escape("{id}"), "(?P<id>[^/]+)") + "$"
        match = re.match(pattern, path)
        if match and match.groupdict().get("id") not in _LITERAL_SEGMENTS:
            return (route_method, template)
    return None


def normalize_template(template: str) -> str:
    """`/contacts/v4/contacts/{contactId}` -> `/contacts/v4/contacts/{id}` (the emulator names its params)."""
    return re.sub(r"\{[^}]+\}", "{id}", template)


def pick_orders(emulator: RunningEmulator) -> tuple[str, list[str], str]:
    """An order with more than 5 priced items and no price tie at the 5th place, its 5 dearest items, and an
    order with no items.

    The expectation is computed here, from the order's items, not by the emulator's own helper.
    """
    candidates: list[tuple[int, str, list[str]]] = []
    empty: list[str] = []
    with emulator.state.lock:
        orders = [dict(o) for o in emulator.state.orders.values()]
    for order in orders:
        items = order.get("items") or []
        if not items:
            empty.append(str(order["id"]))
            continue
        ranked = sorted(items, key=lambda i: -float(i.get("price") or 0))
        if len(ranked) > 5 and float(ranked[4].get("price") or 0) == float(ranked[5].get("price") or 0):
            continue  # a tie at the cut makes "the 5 most expensive" ambiguous
        top = [str(i["catalogItemId"]) for i in ranked[:5]]
        candidates.append((len(items), str(order["id"]), top))
    if not candidates:
        pytest.fail(f"the emulator seeded no usable order (orders: {len(orders)}); the review-request steps need one")
    if not empty:
        pytest.fail(f"the emulator seeded no empty order (orders: {len(orders)}); ORDER_IS_EMPTY needs one")
    candidates.sort(key=lambda c: (-c[0], c[1]))
    _, order_id, top = candidates[0]
    return order_id, top, sorted(empty)[0]


def run_conformance(
    emulator: RunningEmulator, order_id: str, order_items: list[str], empty_order_id: str
) -> list[dict[str, Any]]:
    env = {
        **os.environ,
        "WIX_EMULATOR_URL": emulator.base_url,
        "WIX_API_KEY": emulator.config.api_key,
        "WIX_SITE_ID": emulator.config.site_id,
        "WIX_ORDER_ID": order_id,
        "WIX_ORDER_EXPECTED_ITEMS": ",".join(order_items),
        "WIX_EMPTY_ORDER_ID": empty_order_id,
        "WIX_RUN_TAG": RUN_TAG,
    }
    assert NODE is not None
    try:
        proc = subprocess.run(
            [NODE, str(SCRIPT)],
            cwd=HERE,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        last = out.strip().splitlines()[-1:] or ["nothing"]
        pytest.fail(f"conformance.mjs did not finish within {RUN_TIMEOUT_S}s; last step reported: {last[0][:2000]}")
    lines: list[dict[str, Any]] = []
    for raw in proc.stdout.splitlines():
        raw = raw.strip()
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    if proc.returncode not in (0, 1) or not lines:
        pytest.fail(
            f"conformance.mjs did not run (exit {proc.returncode}).\nstderr:\n{proc.stderr[-4000:]}\n"
            f"stdout:\n{proc.stdout[-4000:]}"
        )
    return lines


def check_state_after_run(emulator: RunningEmulator) -> list[str]:
    """What the SDK's writes left in the emulator's state (records of this run carry the tag RUN_TAG)."""
    problems: list[str] = []
    last_name = f"Conf{RUN_TAG}"
    with emulator.state.lock:
        contacts = [dict(c) for c in emulator.state.contacts.values()]
        reviews = [dict(r) for r in emulator.state.reviews.values()]
        requests = [dict(r) for r in emulator.state.review_requests.values()]
        fields = [dict(f) for f in emulator.state.extended_fields.values()]
    ours = {
        (c.get("info") or {}).get("name", {}).get("first"): c
        for c in contacts
        if (c.get("info") or {}).get("name", {}).get("last") == last_name
    }
    expected_names = {f"Page{i:02d}" for i in range(12)}
    if set(ours) != expected_names:
        problems.append(
            f"contacts named {last_name!r} in state: {sorted(map(str, ours))}, expected {sorted(expected_names)}"
        )
    field_keys = [f.get("key") for f in fields if f.get("displayName") == f"Conformance {RUN_TAG}"]
    if len(field_keys) != 1:
        problems.append(f"extended fields named 'Conformance {RUN_TAG}' in state: {field_keys}, expected exactly one")
    elif "Page00" in ours:
        value = ((ours["Page00"].get("info") or {}).get("extendedFields") or {}).get("items", {}).get(field_keys[0])
        if value != "CRM-0042":
            problems.append(f"contact Page00's {field_keys[0]} in state is {value!r}, expected 'CRM-0042'")
    by_entity = Counter(r.get("entityId") for r in reviews)
    if by_entity[f"conf-{RUN_TAG}-a"] != 0 or by_entity[f"conf-{RUN_TAG}-b"] != 11:
        problems.append(
            f"reviews in state: {by_entity[f'conf-{RUN_TAG}-a']} on entity a (expected 0, deleted), "
            f"{by_entity[f'conf-{RUN_TAG}-b']} on entity b (expected 11)"
        )
    if "Page02" in ours:
        recipient = ours["Page02"]["id"]
        mine = [r for r in requests if (r.get("recipient") or {}).get("contactId") == recipient]
        if len(mine) != 4:
            problems.append(f"review requests for Page02 in state: {len(mine)}, expected 4")
    return problems


def format_failure(line: dict[str, Any]) -> str:
    detail = line.get("detail")
    text = detail if isinstance(detail, str) else json.dumps(detail)
    requests = "; ".join(line.get("requests") or []) or "none"
    return f"- {line['step']}: {text}\n    requests: {requests}"


# Wix sites either publish new reviews at once or hold them for moderation; the SDK must work with both.
@pytest.mark.parametrize("initial_moderation", ["APPROVED", "IN_MODERATION"])
def test_official_wix_sdk_passes_every_step_against_the_emulator(
    emulator_factory: Callable[..., RunningEmulator], initial_moderation: str
) -> None:
    # Seeded records (with createdDate ties) for the whole-collection paging steps and orders for the
    # review-request steps; the script makes its own contacts and reviews for the rest.
    emulator = emulator_factory(
        seed=1, contacts=120, reviews=120, ratings=0, review_requests=5, initial_moderation=initial_moderation
    )
    order_id, order_items, empty_order_id = pick_orders(emulator)
    emulator.state.stats.reset()

    lines = run_conformance(emulator, order_id, order_items, empty_order_id)
    steps = [line for line in lines if "step" in line]
    summaries = [line["summary"] for line in lines if "summary" in line]

    reported = [line["step"] for line in steps]
    missing = [name for name in EXPECTED_STEPS if name not in reported]
    unexpected = [name for name in reported if name not in EXPECTED_STEPS]
    failed = [line for line in steps if not line.get("ok")]
    problems: list[str] = []
    if failed:
        problems.append(f"{len(failed)} of {len(steps)} SDK steps failed:\n" + "\n".join(map(format_failure, failed)))
    if missing:
        problems.append(f"steps that never reported: {missing}")
    if unexpected:
        problems.append(f"steps reported but not expected by this test (add them to EXPECTED_STEPS): {unexpected}")
    assert not problems, "\n\n".join(problems)

    # Where the SDK's calls landed: the script's own log of the URLs it sent (after the host rewrite) must
    # be canonical public paths, and the emulator must have counted exactly those calls on those routes.
    assert len(summaries) == 1, f"expected one summary line, got {len(summaries)}"
    sent = summaries[0]["requests"]
    off_canon = [f"{r['method']} {r['path']}" for r in sent if canonical_route(r["method"], r["path"]) is None]
    assert not off_canon, f"the SDK called paths outside the canonical public routes: {off_canon}"
    sent_by_route = Counter(canonical_route(r["method"], r["path"]) for r in sent)
    assert set(sent_by_route) == CANONICAL_ROUTES, (
        f"routes the script was meant to exercise but did not: {sorted(CANONICAL_ROUTES - set(sent_by_route))}"
    )
    state_problems = check_state_after_run(emulator)
    assert not state_problems, "the emulator's state after the SDK run is off:\n" + "\n".join(state_problems)

    counted: Counter[tuple[str, str]] = Counter()
    for key, n in emulator.state.stats.snapshot()["requests"].items():
        method, template = key.split(" ", 1)
        counted[(method, normalize_template(template))] += n
    assert counted == sent_by_route, (
        "the emulator's request stats disagree with what the SDK sent:\n"
        f"  only in stats: {dict(counted - sent_by_route)}\n  only sent: {dict(sent_by_route - counted)}"
    )
