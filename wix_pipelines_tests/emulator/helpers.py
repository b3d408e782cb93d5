"""Small assertions shared by the emulator tests."""

from __future__ import annotations

from typing import Any

import httpx


def app_code(response: httpx.Response) -> str:
    """The `details.applicationError.code` of a Wix error envelope."""
    return response.json()["details"]["applicationError"]["code"]


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, f"{response.status_code}: {response.text}"
    assert response.headers["x-wix-request-id"]
    return response.json()


def new_contact(client: httpx.Client, **info: Any) -> dict[str, Any]:
    info = info or {"name": {"first": "Dana", "last": "Tester"}}
    return ok(client.post("/contacts/v4/contacts", json={"info": info}))["contact"]
