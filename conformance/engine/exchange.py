"""Records of one HTTP exchange with the target: what was sent and what came back.

These records are the single source for checks, failure messages, Allure attachments and curl
lines. They hold the real values; `conformance.engine.redact` is applied before anything leaves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance.engine.jsondepth import TOO_DEEP, too_deep

__all__ = ["INVALID_TOKEN", "NOT_JSON", "Exchange", "Received", "Sent"]

# The bearer token of requests that must be refused (`auth: invalid`): not a secret, so curl
# lines show it as it is.
INVALID_TOKEN = "scim-conformance-invalid-token"


class _NotJson:
    """Marker for a body that is empty or does not parse as JSON."""

    def __repr__(self) -> str:
        return "<not JSON>"


NOT_JSON: Any = _NotJson()


@dataclass(frozen=True)
class Sent:
    """A request as it went on the wire."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


@dataclass(frozen=True)
class Received:
    """A response as it came back; `json` is NOT_JSON when the body is not JSON."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    text: str
    json: Any
    elapsed_ms: float

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    @property
    def json_problem(self) -> str | None:
        """Why a body that is JSON in form cannot be used as JSON (nested too deep), or None."""
        return TOO_DEEP if self.json is NOT_JSON and too_deep(self.text) else None

    @property
    def media_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class Exchange:
    """One request and its response, or the transport error that stopped it."""

    sent: Sent
    received: Received | None
    error: str | None = None
