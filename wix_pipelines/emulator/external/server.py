"""Serving the external-system emulator: in a background thread for tests, in the foreground for the CLI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from wix_pipelines.serving import BackgroundServer, serve_in_foreground, start_in_background

from .app import create_external_app
from .state import SYNC_TOKEN, USER_TOKEN, ExternalConfig, ExternalState


@dataclass
class RunningExternalEmulator:
    base_url: str
    state: ExternalState
    sync_token: str = SYNC_TOKEN
    user_token: str = USER_TOKEN
    _background: BackgroundServer | None = field(default=None, repr=False)

    def stop(self, wait: bool = True) -> None:
        if self._background is not None:
            self._background.stop(wait)


def start_external_emulator(config: ExternalConfig | None = None, port: int = 0) -> RunningExternalEmulator:
    """Start on 127.0.0.1 in a daemon thread; returns once it accepts connections. Call ``.stop()`` after."""
    state = ExternalState(config)
    background = start_in_background(create_external_app(state), port, name="external emulator")
    return RunningExternalEmulator(background.base_url, state, _background=background)


def serve_external(port: int, on_ready: Callable[[ExternalState], None] | None = None) -> None:
    """Serve in the foreground until SIGINT/SIGTERM."""
    state = ExternalState()
    if on_ready is not None:
        on_ready(state)
    serve_in_foreground(create_external_app(state), port)
