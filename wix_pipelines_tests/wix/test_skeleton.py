"""Skeleton decoding of bulk pages: only the fields paging needs become Python objects, `raw` stays whole."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from wix_pipelines.emulator.server import RunningEmulator
from wix_pipelines.wix import WixClient
from wix_pipelines.wix.skeleton import decode_skeleton

KEYS = ("id", "createdDate")


def _trim(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: r[k] for k in KEYS if k in r} for r in records]


def test_a_key_only_page_matches_the_full_page_and_keeps_the_whole_body(
    emu: RunningEmulator, client: WixClient
) -> None:
    emu.state.insert_records(
        "contacts",
        [{"info": {"name": {"first": f"n{i}"}, "extendedFields": {"items": {"custom.x": i}}}} for i in range(30)],
    )
    full = list(client.contacts.iter_created_since(page_size=7))
    light = list(client.contacts.iter_created_since(page_size=7, keys=("id",)))
    assert [len(p.items) for p in light] == [len(p.items) for p in full]
    assert [item for p in light for item in p.items] == _trim([item for p in full for item in p.items])
    assert [p.total for p in light] == [p.total for p in full]
    # What lands in the warehouse is the body as received, every field of every record included.
    landed = [r for p in light for r in orjson.loads(p.raw)["contacts"]]
    assert {r["info"]["extendedFields"]["items"]["custom.x"] for r in landed} == set(range(30))


def test_cursor_streams_decode_keys_and_follow_cursors(emu: RunningEmulator, client: WixClient) -> None:
    emu.state.insert_records("ratings", [{"value": 1 + i % 5, "attributeId": "quality"} for i in range(25)])
    full = [item for p in client.ratings.query_pages(page_size=10) for item in p.items]
    light = [item for p in client.ratings.query_pages(page_size=10, keys=KEYS) for item in p.items]
    assert len(full) == 25
    assert light == _trim(full)


def test_decode_skeleton_keeps_metadata_and_omits_absent_fields() -> None:
    body = orjson.dumps(
        {
            "ratings": [{"id": "a", "createdDate": "2025-01-01T00:00:00Z", "value": 5}, {"id": "b"}],
            "metadata": {"count": 2, "cursors": {"next": "c2"}, "hasNext": True},
        }
    )
    assert decode_skeleton(body, "ratings", KEYS) == {
        "ratings": [{"id": "a", "createdDate": "2025-01-01T00:00:00Z"}, {"id": "b"}],
        "metadata": {"count": 2, "cursors": {"next": "c2"}, "hasNext": True},
    }
    assert decode_skeleton(b'{"pagingMetadata": {"count": 0}}', "contacts", KEYS) == {"pagingMetadata": {"count": 0}}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # Records that are not objects: handed over as a full parse would, for the loader to quarantine.
        (b'{"contacts": [{"id": "a", "x": 1}, null, 5]}', {"contacts": [{"id": "a"}, None, 5]}),
        # A record list that is not a list: left as is, so the page reader rejects it.
        (b'{"contacts": {"id": "a"}}', {"contacts": {"id": "a"}}),
        (b"[1, 2]", [1, 2]),
    ],
)
def test_malformed_shapes_fall_back_to_a_full_parse(body: bytes, expected: Any) -> None:
    assert decode_skeleton(body, "contacts", KEYS) == expected


@pytest.mark.parametrize("body", [b'{"contacts": [{"id": "a"', b"", b"not json", b'{"contacts": [}'])
def test_truncated_or_invalid_json_raises_the_json_error_the_transport_maps(body: bytes) -> None:
    with pytest.raises(orjson.JSONDecodeError):
        decode_skeleton(body, "contacts", KEYS)
