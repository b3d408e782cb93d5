"""Serving the emulator: uvicorn on 127.0.0.1, in a background thread for tests or blocking for the CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from wix_pipelines.emulator.app import create_app
from wix_pipelines.emulator.config import EmulatorConfig
from wix_pipelines.emulator.state import EmulatorState
from wix_pipelines.serving import HOST, BackgroundServer, serve_in_foreground, start_in_background

__all__ = ["HOST", "RunningEmulator", "running_emulator", "serve", "start_emulator"]


@dataclass
class RunningEmulator:
    """A started emulator: where it listens, what it holds, and the key its webhooks are signed with."""

    base_url: str
    config: EmulatorConfig
    state: EmulatorState
    public_key_pem: str
    _background: BackgroundServer | None = field(default=None, repr=False)

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
        self.state.close()
        if self._background is not None:
            self._background.stop(wait)
            if wait:
                self._background = None


def start_emulator(config: EmulatorConfig | None = None, port: int = 0) -> RunningEmulator:
    """Start in a background thread and return once it accepts connections; call `.stop()` after."""
    config = config or EmulatorConfig()
    state = EmulatorState(config)
    try:
        background = start_in_background(create_app(state), port, name="Wix emulator")
    except BaseException:
        state.close()
        raise
    return RunningEmulator(
        base_url=background.base_url,
        config=config,
        state=state,
        public_key_pem=state.public_key_pem,
        _background=background,
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
    try:
        serve_in_foreground(create_app(state), port)
    finally:
        state.close()
