"""Serving the receiver with uvicorn: in the foreground (CLI) or in a background thread (tests)."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import uvicorn

from .receiver import WebhookReceiver, create_receiver_app

HOST = "127.0.0.1"
PATH = "/webhooks/wix"


def _config(receiver: WebhookReceiver, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        create_receiver_app(receiver, PATH), host=host, port=port, log_level="warning", lifespan="off"
    )


@dataclass
class RunningReceiver:
    url: str
    receiver: WebhookReceiver
    _server: uvicorn.Server | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.receiver.inbox.close()


def start_webhook_receiver(receiver: WebhookReceiver, port: int = 0) -> RunningReceiver:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    bound = sock.getsockname()[1]
    server = uvicorn.Server(_config(receiver, HOST, bound))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"webhooks-{bound}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the webhook receiver did not start on {HOST}:{bound}")
        time.sleep(0.002)
    return RunningReceiver(f"http://{HOST}:{bound}{PATH}", receiver, _server=server, _thread=thread)


class _ForegroundServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn's own handlers re-raise the signal after shutdown (exit status -15); ours just stop serving.
        yield


def serve_receiver(receiver: WebhookReceiver, host: str, port: int) -> None:
    """Foreground until SIGINT/SIGTERM, then exit cleanly (status 0)."""
    server = _ForegroundServer(_config(receiver, host, port))

    def request_exit(signum: int, frame: object) -> None:
        server.should_exit = True

    signal.signal(signal.SIGINT, request_exit)
    signal.signal(signal.SIGTERM, request_exit)
    try:
        server.run()
    finally:
        receiver.inbox.close()
