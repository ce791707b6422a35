"""Headers a scenario removes are not sent, even the ones httpx adds by default."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from conformance.profiles import TargetProfile
from conformance.transport import Transport


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(dict(self.headers))
            self.send_response(200)
            self.send_header("Content-Type", "application/scim+json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v2", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_null_header_removes_httpx_defaults_too(recorder: tuple[str, list[dict[str, str]]]):
    # OneLogin's group PATCH comes with no User-Agent at all (authentik#11249).
    url, seen = recorder
    with Transport(TargetProfile(id="t", base_url=url), None) as transport:
        transport.send("GET", "/Users", headers={"User-Agent": None, "Accept": "application/scim+json"})
        transport.send("GET", "/Users", headers={"User-Agent": "Okta SCIM Client 1.0.0"})
    assert "User-Agent" not in seen[0] and seen[0]["Accept"] == "application/scim+json"
    assert seen[1]["User-Agent"] == "Okta SCIM Client 1.0.0"
