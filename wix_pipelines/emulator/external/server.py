"""Serving the external-system emulator: in a background thread for tests, in the foreground for the CLI."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import uvicorn

from wix_pipelines.emulator.server import HOST, _QuickServer, _uvicorn_config

from .app import create_external_app
from .state import SYNC_TOKEN, USER_TOKEN, ExternalConfig, ExternalState


@dataclass
class RunningExternalEmulator:
    base_url: str
    state: ExternalState
    sync_token: str = SYNC_TOKEN
    user_token: str = USER_TOKEN
    _server: uvicorn.Server | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def stop(self, wait: bool = True) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if wait and self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def start_external_emulator(config: ExternalConfig | None = None, port: int = 0) -> RunningExternalEmulator:
    """Start on 127.0.0.1 in a daemon thread; returns once it accepts connections. Call ``.stop()`` after."""
    state = ExternalState(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    bound = sock.getsockname()[1]
    server = _QuickServer(_uvicorn_config(create_external_app(state), bound))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"ext-emulator-{bound}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the external emulator did not start on {HOST}:{bound}")
        time.sleep(0.002)
    return RunningExternalEmulator(f"http://{HOST}:{bound}", state, _server=server, _thread=thread)


def serve_external(port: int, on_ready: Callable[[ExternalState], None] | None = None) -> None:
    """Serve in the foreground until SIGINT/SIGTERM."""
    state = ExternalState()
    if on_ready is not None:
        on_ready(state)
    server = _QuickServer(_uvicorn_config(create_external_app(state), port))

    def request_exit(signum: int, frame: object) -> None:
        server.should_exit = True

    signal.signal(signal.SIGINT, request_exit)
    signal.signal(signal.SIGTERM, request_exit)
    server.run()
