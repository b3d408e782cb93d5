"""An emulator of the external CRM / eCommerce system the sync keeps in step with Wix (see ``app.py``)."""

from .app import create_external_app
from .server import RunningExternalEmulator, serve_external, start_external_emulator
from .state import SYNC_TOKEN, USER_TOKEN, ExternalApiError, ExternalConfig, ExternalState, Fault

__all__ = [
    "SYNC_TOKEN",
    "USER_TOKEN",
    "ExternalApiError",
    "ExternalConfig",
    "ExternalState",
    "Fault",
    "RunningExternalEmulator",
    "create_external_app",
    "serve_external",
    "start_external_emulator",
]
