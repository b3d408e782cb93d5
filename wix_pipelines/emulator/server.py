"""Serving the emulator: uvicorn on 127.0.0.1, in a background thread for tests or blocking for the CLI."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from wix_pipelines.emulator.app import create_app
from wix_pipelines.emulator.config import EmulatorConfig
from wix_pipelines.emulator.state import EmulatorState

HOST = "127.0.0.1"
_START_TIMEOUT_S = 15.0


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

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.state.close()


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
    server = uvicorn.Server(_uvicorn_config(app, bound_port))
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


def serve(config: EmulatorConfig, port: int) -> None:
    """Serve in the foreground until SIGINT/SIGTERM (uvicorn installs the handlers)."""
    state = EmulatorState(config)
    try:
        uvicorn.Server(_uvicorn_config(create_app(state), port)).run()
    finally:
        state.close()
