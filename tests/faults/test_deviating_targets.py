"""Each check can fail: a real server made to deviate on purpose must make the right scenario fail.

The deviating proxy sits in front of the embedded scim2-server and reproduces one deviation at
a time. For each, the scenario that must catch it fails, and the failure names the step and
says what was wrong. Hostile targets (down, slow, HTML, garbage) give a clearly failing test
with the reason, never a crash and never a green run.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from conformance.engine.embedded import EmbeddedServer
from tests.support.deviating_proxy import DeviatingProxy, Deviation, ProxyRequest, ProxyResponse
from tests.support.runs import embedded_target, run_scenarios

OKTA = "scenarios/okta/push-new-user.scenario.yaml"
ENTRA = "scenarios/entra/test-connection-and-create.scenario.yaml"
BOTH = (OKTA, ENTRA)


def test_without_deviations_the_proxy_is_transparent_and_every_scenario_passes(
    scim_server: EmbeddedServer, tmp_path: Path
):
    # The control for every detection test (tests/faults/test_*_detection.py): a failure there
    # comes from the deviation, not from the proxy.
    with DeviatingProxy(scim_server.base_url) as proxy:
        result = run_scenarios(embedded_target(proxy.url, tmp_path), tmp_path / "reports")
    assert result.code == 0, result.output
    assert " failed" not in result.output and " passed" in result.output


def _answer_everything(status: int, body: bytes, content_type: str) -> Deviation:
    return Deviation(
        name=f"always-{status}-{content_type}",
        description="answers every request the same way",
        source="hostile target",
        rewrite_request=lambda request: ProxyResponse(status, {"content-type": content_type}, body),
    )


def test_a_target_that_answers_html_fails_with_the_content_type_named(scim_server: EmbeddedServer, tmp_path: Path):
    html = _answer_everything(200, b"<html><body><h1>Welcome to nginx!</h1></body></html>", "text/html")
    with DeviatingProxy(scim_server.base_url, [html]) as proxy:
        result = run_scenarios(proxy.url, tmp_path, "--idp", "okta,entra", paths=BOTH)
    assert result.code == 1
    assert "2 failed" in result.output
    assert "expected a JSON body, got text/html: '<html><body><h1>Welcome to nginx!" in result.output


def test_a_target_that_answers_garbage_fails_and_shows_the_garbage(scim_server: EmbeddedServer, tmp_path: Path):
    garbage = _answer_everything(200, b'{"schemas": [unterminated', "application/scim+json")
    with DeviatingProxy(scim_server.base_url, [garbage]) as proxy:
        result = run_scenarios(proxy.url, tmp_path, "--idp", "okta,entra", paths=BOTH)
    assert result.code == 1 and "2 failed" in result.output
    assert "expected a JSON body, got application/scim+json: '{\"schemas\": [unterminated'" in result.output


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_target_that_is_down_stops_the_run_with_one_clear_message(tmp_path: Path):
    result = run_scenarios(f"http://127.0.0.1:{_closed_port()}/scim/v2", tmp_path, "--idp", "okta,entra", paths=BOTH)
    assert result.code == 1
    assert "1 failed" in result.output  # the first scenario, not one failure per scenario
    assert "no usable answer from the target: ConnectError" in result.output
    assert "the target is unreachable (ConnectError: [Errno 111] Connection refused); " \
           "the remaining scenarios were not run" in result.output
    assert "Traceback" not in result.output
    assert (tmp_path / "junit.xml").is_file() and any((tmp_path / "allure-results").iterdir())


def test_a_slow_target_fails_with_a_timeout_named_in_the_failure(scim_server: EmbeddedServer, tmp_path: Path):
    def slow(request: ProxyRequest) -> ProxyRequest:
        time.sleep(2.5)
        return request

    profile = tmp_path / "slow.yaml"
    with DeviatingProxy(scim_server.base_url, [Deviation("slow", "sleeps", "hostile", rewrite_request=slow)]) as proxy:
        profile.write_text(f"id: slow\nbase_url: {proxy.url}\ntimeouts: {{connect: 2, read: 1}}\n")
        started = time.monotonic()
        result = run_scenarios(str(profile), tmp_path / "reports", paths=(OKTA,))
    assert result.code == 1
    assert "no usable answer from the target: timed out (ReadTimeout)" in result.output
    assert time.monotonic() - started < 60


def test_a_wrong_token_fails_with_the_401_shown(scim_server: EmbeddedServer, tmp_path: Path):
    result = run_scenarios(scim_server.base_url, tmp_path, paths=(OKTA,), token="not-the-right-token")
    assert result.code == 1
    assert "expected status 200, got 401" in result.output
    assert "not-the-right-token" not in result.output


def test_tls_verification_is_on_by_default_and_a_self_signed_target_fails_with_the_fix_named(tmp_path: Path):
    import http.server
    import ssl
    import subprocess
    import threading

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = run_scenarios(f"https://127.0.0.1:{server.server_address[1]}/v2", tmp_path / "r", paths=(OKTA,))
    finally:
        server.shutdown()
        server.server_close()
    assert result.code == 1
    assert "CERTIFICATE_VERIFY_FAILED" in result.output
    assert "set tls.ca_bundle in the target profile" in result.output
