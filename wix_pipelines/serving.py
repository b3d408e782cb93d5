"""Serving our ASGI apps (the Wix emulator, the external-system emulator, the webhook receiver) with uvicorn.

On 127.0.0.1 only: in a background thread for tests and in-process use, or in the foreground for the CLI, where
SIGINT/SIGTERM stop the server and the command exits with status 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

HOST = "127.0.0.1"
START_TIMEOUT_S = 15.0


class LoopbackServer(uvicorn.Server):
    """uvicorn, tuned for servers that tests start and stop many times."""

    async def main_loop(self) -> None:
        # uvicorn checks `should_exit` every 100 ms; tests start and stop a server per test, so poll faster.
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            await asyncio.sleep(0.01)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # `serve_in_foreground` installs its own SIGINT/SIGTERM handlers: uvicorn's would re-raise the signal
        # after shutdown, so the CLI would exit with -15 instead of 0.
        yield

    async def _wait_tasks_to_complete(self) -> None:
        # Same as uvicorn's graceful wait (connections, then tasks), polling every 5 ms instead of 100 ms.
        while (self.server_state.connections or self.server_state.tasks) and not self.force_exit:
            await asyncio.sleep(0.005)
        for server in self.servers:
            await server.wait_closed()


def uvicorn_config(app: Any, port: int, host: str = HOST) -> uvicorn.Config:
    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30
    )


@dataclass
class BackgroundServer:
    """A server running in a daemon thread of this process."""

    port: int
    server: LoopbackServer
    thread: threading.Thread

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self, wait: bool = True) -> None:
        """Ask the server to stop; `wait=False` skips joining the thread (uvicorn's close takes ~0.1 s)."""
        self.server.should_exit = True
        if wait:
            self.thread.join(timeout=10)


def start_in_background(app: Any, port: int = 0, *, name: str = "server") -> BackgroundServer:
    """Serve `app` on 127.0.0.1 (an ephemeral port when 0); return once it accepts connections."""
    # Bind first so an ephemeral port is known before uvicorn starts, with no race over who gets it. The socket
    # then belongs to uvicorn, which closes it on shutdown.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    bound = int(sock.getsockname()[1])
    server = LoopbackServer(uvicorn_config(app, bound))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"{name}-{bound}", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the {name} did not start on {HOST}:{bound}")
        time.sleep(0.002)
    return BackgroundServer(bound, server, thread)


def serve_in_foreground(app: Any, port: int, host: str = HOST) -> None:
    """Serve until SIGINT/SIGTERM, then return normally (the CLI exits with status 0)."""
    server = LoopbackServer(uvicorn_config(app, port, host))

    def request_exit(signum: int, frame: object) -> None:
        server.should_exit = True

    signal.signal(signal.SIGINT, request_exit)
    signal.signal(signal.SIGTERM, request_exit)
    server.run()
