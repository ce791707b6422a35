"""The traffic model of a recording: what passed between an IdP and a SCIM server, and what it became.

`Observed` is one request and its answer as the proxy or a HAR file saw them; `Replayable` is one
the harness can send again (inside the target's base path, a method it sends); `Recording` is the
scenario text built from them. `record` and `import` produce `Observed`, the compiler consumes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["HOP_BY_HOP", "Observed", "Recording", "RecordingError", "Replayable"]

# RFC 9110 §7.6.1: headers that concern one connection, never forwarded, never replayed.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade",
})


class RecordingError(Exception):
    """The exchanges cannot become a scenario (none is replayable), or a secret would be written."""


@dataclass
class Observed:
    """One request and the target's answer, as they passed (bodies without content-encoding)."""

    method: str
    target: str  # the request target as sent: path and query, percent-encoded (/v2/Users?filter=...)
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    response_headers: list[tuple[str, str]]
    response_body: bytes
    response_complete: bool = True  # False: the body was cut (too large, client gone, undecodable)

    def request_header(self, name: str) -> str | None:
        """A request header's value (repeated ones joined with ", "), any spelling of the name; None if absent."""
        return _header(self.request_headers, name)

    def response_header(self, name: str) -> str | None:
        """A response header's value, as `request_header` reads a request's."""
        return _header(self.response_headers, name)


@dataclass
class Replayable:
    """An exchange the scenario replays: its step index, path below the base URL and query split up."""

    index: int
    exchange: Observed
    rel_path: str
    raw_flags: list[str]  # query pieces without "=" (kept in the path as they were)
    query: list[tuple[str, str]]
    dropped_query: list[str]  # names of query parameters left out because they carry a secret


@dataclass
class Recording:
    """A scenario built from exchanges: its text and what was left out."""

    text: str
    steps: int
    left_out: list[str] = field(default_factory=list)  # one line per exchange not replayed, and why
    notes: list[str] = field(default_factory=list)  # what a replay may trip on


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in headers if k.lower() == name.lower()]
    return ", ".join(values) if values else None
