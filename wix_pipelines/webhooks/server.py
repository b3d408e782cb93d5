"""Serving the receiver with uvicorn: in the foreground (CLI) or in a background thread (tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from wix_pipelines.serving import HOST, BackgroundServer, serve_in_foreground, start_in_background

from .receiver import WebhookReceiver, create_receiver_app

__all__ = ["HOST", "PATH", "RunningReceiver", "serve_receiver", "start_webhook_receiver"]

PATH = "/webhooks/wix"


@dataclass
class RunningReceiver:
    url: str
    receiver: WebhookReceiver
    _background: BackgroundServer | None = field(default=None, repr=False)

    def stop(self) -> None:
        if self._background is not None:
            self._background.stop()
            self._background = None
        self.receiver.inbox.close()


def start_webhook_receiver(receiver: WebhookReceiver, port: int = 0) -> RunningReceiver:
    """The receiver on 127.0.0.1 in a daemon thread (tests); returns once it accepts connections."""
    background = start_in_background(create_receiver_app(receiver, PATH), port, name="webhook receiver")
    return RunningReceiver(f"{background.base_url}{PATH}", receiver, _background=background)


def serve_receiver(receiver: WebhookReceiver, host: str, port: int) -> None:
    """Foreground until SIGINT/SIGTERM, then exit cleanly (status 0)."""
    try:
        serve_in_foreground(create_receiver_app(receiver, PATH), port, host)
    finally:
        receiver.inbox.close()
