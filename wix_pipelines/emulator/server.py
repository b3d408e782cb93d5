"""Serving the emulator: uvicorn on 127.0.0.1, in a background thread for tests or blocking for the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from wix_pipelines.emulator.app import create_app
from wix_pipelines.emulator.config import EmulatorConfig
from wix_pipelines.emulator.state import EmulatorState

HOST = "127.0.0.1"
_START_TIMEOUT_S = 15.0


class _QuickServer(uvicorn.Server):
    """uvicorn checks `should_exit` every 100 ms; tests start and stop an emulator per test, so poll faster."""

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            await asyncio.sleep(0.01)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # `serve` installs its own SIGINT/SIGTERM handlers: uvicorn's would re-raise the signal after
        # shutdown, so the CLI would exit with -15 instead of 0.
        yield

    async def _wait_tasks_to_complete(self) -> None:
        # Same as uvicorn's graceful wait (connections, then tasks), polling every 5 ms instead of 100 ms.
        while (self.server_state.connections or self.server_state.tasks) and not self.force_exit:
            await asyncio.sleep(0.005)
        for server in self.servers:
            await server.wait_closed()


@dataclass
class RunningEmulator:
    """A started emulator: where it listens, what it holds, and the key its webhooks are signed with."""

    base_url: str
    config: EmulatorConfig
    state: EmulatorState
    public_key_pem: str
    _server: uvicorn.Server | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def api_key_headers(self) -> dict[str, str]:
        """Headers an API-key client sends (SPEC.md §2.3)."""
        return {"Authorization": self.config.api_key, "wix-site-id": self.config.site_id}

    def oauth_credentials(self) -> dict[str, str]:
        return {
            "client_id": self.config.app_id,
            "client_secret": self.config.app_secret,
            "instance_id": self.config.instance_id,
        }

    def stop(self, wait: bool = True) -> None:
        """Shut the server down. uvicorn spends a fixed ~0.1 s closing; `wait=False` lets per-test fixtures
        skip that wait (the thread finishes on its own; the port is ephemeral anyway)."""
        if self._server is not None:
            self._server.should_exit = True
        self.state.close()
        if wait and self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def _uvicorn_config(app: Any, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=HOST,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
    )


def start_emulator(config: EmulatorConfig | None = None, port: int = 0) -> RunningEmulator:
    """Start in a background thread and return once it accepts connections; call `.stop()` after."""
    config = config or EmulatorConfig()
    state = EmulatorState(config)
    app = create_app(state)
    # Bind first so an ephemeral port is known before uvicorn starts, with no race over who gets it.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    bound_port = sock.getsockname()[1]
    server = _QuickServer(_uvicorn_config(app, bound_port))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"wix-emulator-{bound_port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            state.close()
            raise RuntimeError(f"the Wix emulator did not start on {HOST}:{bound_port}")
        time.sleep(0.002)
    # `sock` now belongs to uvicorn's server, which closes it on shutdown.
    return RunningEmulator(
        base_url=f"http://{HOST}:{bound_port}",
        config=config,
        state=state,
        public_key_pem=state.public_key_pem,
        _server=server,
        _thread=thread,
    )


@contextmanager
def running_emulator(config: EmulatorConfig | None = None, port: int = 0) -> Iterator[RunningEmulator]:
    """An emulator on 127.0.0.1 (ephemeral port when 0) for the duration of the `with` block."""
    emulator = start_emulator(config, port)
    try:
        yield emulator
    finally:
        emulator.stop()


def serve(config: EmulatorConfig, port: int, on_ready: Callable[[EmulatorState], None] | None = None) -> None:
    """Serve in the foreground until SIGINT/SIGTERM, then exit cleanly.

    `on_ready` runs after seeding, before the socket opens (the CLI prints the URL and credentials there).
    """
    state = EmulatorState(config)
    if on_ready is not None:
        on_ready(state)
    server = _QuickServer(_uvicorn_config(create_app(state), port))

    def request_exit(signum: int, frame: object) -> None:
        server.should_exit = True

    signal.signal(signal.SIGINT, request_exit)
    signal.signal(signal.SIGTERM, request_exit)
    try:
        server.run()
    finally:
        state.close()
