"""Headers a scenario removes are not sent, even the ones httpx adds by default."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from conformance.engine.profiles import TargetProfile
from conformance.engine.transport import Transport


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


@pytest.mark.parametrize(("content_type", "body", "text"), [
    ("application/scim+json; charset=iso-8859-1", '{"displayName": "Zoë"}'.encode("latin-1"), "Zoë"),
    ('application/json;charset="UTF-16"', '{"displayName": "Zoë"}'.encode("utf-16"), "Zoë"),
    ("application/scim+json", '{"displayName": "Zoë"}'.encode(), "Zoë"),  # no charset: UTF-8
    ("application/scim+json; charset=no-such-codec", '{"displayName": "Zoë"}'.encode(), "Zoë"),
])
def test_an_answer_is_decoded_with_the_charset_its_content_type_names(content_type: str, body: bytes, text: str):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with Transport(TargetProfile(id="t", base_url=f"http://127.0.0.1:{server.server_address[1]}"), None) as t:
            received = t.send("GET", "/Users/1").received
    finally:
        server.shutdown()
        server.server_close()
    assert received is not None and received.json == {"displayName": text}
