"""A real Slack-compatible webhook receiver on 127.0.0.1 (starlette + uvicorn in a thread) for delivery tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


@dataclass
class Receiver:
    url: str
    fail_first: int = 0  # answer 500 to this many requests, then 200
    requests: list[dict[str, Any]] = field(default_factory=list)  # every body received, failed ones too
    accepted: list[dict[str, Any]] = field(default_factory=list)  # bodies answered with 200


@contextmanager
def running_receiver(fail_first: int = 0) -> Iterator[Receiver]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    receiver = Receiver(url=f"http://127.0.0.1:{port}/services/T000/B000/secret", fail_first=fail_first)

    async def hook(request: Request) -> PlainTextResponse:
        body = await request.json()
        receiver.requests.append(body)
        if len(receiver.requests) <= receiver.fail_first:
            return PlainTextResponse("internal_error", status_code=500)
        receiver.accepted.append(body)
        return PlainTextResponse("ok")  # what Slack answers

    app = Starlette(routes=[Route("/services/T000/B000/secret", hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("webhook receiver did not start")
        time.sleep(0.005)
    try:
        yield receiver
    finally:
        server.should_exit = True
        thread.join(timeout=5)
