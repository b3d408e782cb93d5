"""What a handler gets: the state, the parsed request and the caller's identity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams

from wix_pipelines.emulator.errors import ApiError
from wix_pipelines.emulator.state import EmulatorState


@dataclass
class Ctx:
    state: EmulatorState
    method: str
    path: str
    params: QueryParams
    path_params: dict[str, str]
    body: dict[str, Any]
    identity: dict[str, Any]

    def param(self, name: str) -> str | None:
        return self.params.get(name)

    def param_list(self, name: str) -> list[str]:
        return self.params.getlist(name)

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean from the query string or the body (the SDK sends both forms for different calls)."""
        raw: Any = self.params.get(name)
        if raw is None:
            raw = self.body.get(name)
        if raw is None:
            return default
        if isinstance(raw, bool):
            return raw
        return str(raw).lower() in ("true", "1", "yes")

    def obj(self, name: str, required: bool = False) -> dict[str, Any]:
        value = self.body.get(name)
        if value is None:
            if required:
                from wix_pipelines.emulator.errors import validation_error

                raise validation_error(name, "must not be empty")
            return {}
        if not isinstance(value, dict):
            raise ApiError(400, "INVALID_ARGUMENT", f"{name} must be a JSON object, got {type(value).__name__}")
        return value

    @property
    def is_app(self) -> bool:
        return self.identity.get("identityType") == "APP"
