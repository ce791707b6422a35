"""The transport against hostile servers, in-process: bounded bodies, bounded waits, no redirects.

These pin the limits themselves (sizes, waits, counts); `test_hostile_targets.py` shows what a
user sees when a whole run meets the same servers.
"""

from __future__ import annotations

import http.server
import socket
import threading
import time
import tracemalloc
from email.utils import formatdate
from pathlib import Path

import pytest

from conformance.engine import transport as transport_module
from conformance.engine.profiles import TargetProfile
from conformance.engine.transport import (
    MAX_429_RETRIES,
    MAX_BODY_BYTES,
    MAX_RETRY_AFTER_S,
    MAX_TOTAL_RETRY_WAIT_S,
    SILENT_AFTER,
    Transport,
)
from tests.hostile.servers import (
    HostileServer,
    answer,
    drip,
    drip_headers,
    gzip_bomb,
    hang,
    huge,
    redirect,
    self_signed_context,
    too_many_requests,
    truncated,
)

TOKEN = "tok-transport-limits-0123456789"
OK = b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0, "Resources": []}'


def _transport(url: str, *, read: float = 5, connect: float = 2, verify: bool = True) -> Transport:
    target = TargetProfile(id="hostile", base_url=f"{url}/scim/v2", connect_timeout=connect,
                           read_timeout=read, verify_tls=verify)
    return Transport(target, TOKEN)


def test_a_50_mb_body_is_cut_at_the_limit_without_holding_it_in_memory():
    with HostileServer(huge()) as server, _transport(server.url) as transport:
        tracemalloc.start()
        try:
            started = time.monotonic()
            exchange = transport.send("GET", "/Users")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert exchange.received is None
    assert exchange.error is not None
    assert exchange.error.startswith(f"response body larger than {MAX_BODY_BYTES // 2**20} MB (status 200")
    assert peak < 3 * MAX_BODY_BYTES, f"peak {peak / 2**20:.0f} MB"
    assert time.monotonic() - started < 20


def test_a_declared_content_length_over_the_limit_is_refused_before_reading():
    def lying_length(handler: http.server.BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/scim+json")
        handler.send_header("Content-Length", str(60 * 2**20))
        handler.end_headers()
        stopping.wait(10)  # it never sends the body: only the header can have stopped the client

    with HostileServer(lying_length) as server, _transport(server.url, read=5) as transport:
        started = time.monotonic()
        exchange = transport.send("GET", "/Users")
    assert exchange.error is not None and "response body larger than 10 MB" in exchange.error
    assert time.monotonic() - started < 3


def test_a_gzip_bomb_is_cut_at_the_limit_after_decompression():
    with HostileServer(gzip_bomb()) as server, _transport(server.url) as transport:
        exchange = transport.send("GET", "/Users")
    assert exchange.error is not None and exchange.error.startswith("response body larger than 10 MB")


def test_a_body_that_drips_forever_times_out_at_the_answer_deadline():
    with HostileServer(drip) as server, _transport(server.url, read=1, connect=1) as transport:
        started = time.monotonic()
        exchange = transport.send("GET", "/Users")
        elapsed = time.monotonic() - started
    assert exchange.received is None
    assert exchange.error is not None
    assert "timed out: the answer (status 200) was still not complete after" in exchange.error
    assert transport.answer_deadline_s == 3
    assert 2.5 < elapsed < 3 + 1 + 1  # the deadline, plus at most one read timeout, plus slack


def test_a_server_that_never_answers_times_out_after_the_read_timeout():
    with HostileServer(hang) as server, _transport(server.url, read=1) as transport:
        started = time.monotonic()
        exchange = transport.send("GET", "/Users")
    assert exchange.error is not None and exchange.error.startswith("timed out (ReadTimeout) after 1.")
    assert time.monotonic() - started < 3
    assert transport.down_reason is None  # it is up, only slow: the run goes on


def test_a_truncated_body_is_a_transport_error_not_a_json_answer():
    with HostileServer(truncated) as server, _transport(server.url) as transport:
        exchange = transport.send("GET", "/Users")
    assert exchange.received is None
    assert exchange.error is not None
    assert exchange.error.startswith("RemoteProtocolError: peer closed connection without sending complete")


def test_429_is_retried_a_bounded_number_of_times_honouring_retry_after():
    with HostileServer(too_many_requests("1")) as server, _transport(server.url) as transport:
        started = time.monotonic()
        exchange = transport.send("GET", "/Users")
        elapsed = time.monotonic() - started
    assert exchange.received is not None and exchange.received.status == 429
    assert len(server.requests) == MAX_429_RETRIES + 1
    gaps = [b.at - a.at for a, b in zip(server.requests, server.requests[1:], strict=False)]
    assert all(gap >= 0.95 for gap in gaps), gaps  # Retry-After: 1 was honoured each time
    assert elapsed < MAX_429_RETRIES * 1 + 3


def test_429_then_success_returns_the_success():
    calls = []
    ok = answer(200, OK)
    slow_down = too_many_requests("0")

    def once_429(handler: http.server.BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        calls.append(1)
        (slow_down if len(calls) == 1 else ok)(handler, stopping)

    with HostileServer(once_429) as server, _transport(server.url) as transport:
        exchange = transport.send("GET", "/Users")
    assert exchange.received is not None and exchange.received.status == 200
    assert len(server.requests) == 2


@pytest.mark.parametrize("retry_after", ["3600", "1e9", "inf", formatdate(time.time() + 86400, usegmt=True)])
def test_a_huge_retry_after_is_capped_and_the_total_wait_is_bounded(retry_after: str,
                                                                   monkeypatch: pytest.MonkeyPatch):
    waits: list[float] = []
    monkeypatch.setattr(transport_module.time, "sleep", waits.append)
    with HostileServer(too_many_requests(retry_after)) as server, _transport(server.url) as transport:
        exchange = transport.send("GET", "/Users")
    assert exchange.received is not None and exchange.received.status == 429
    assert waits and all(0 < w <= MAX_RETRY_AFTER_S for w in waits), waits
    assert sum(waits) <= MAX_TOTAL_RETRY_WAIT_S
    assert len(server.requests) == len(waits) + 1 <= MAX_429_RETRIES + 1


@pytest.mark.parametrize(("retry_after", "low", "high"), [
    ("2", 2, 2),
    ("soon", 0.5, 0.5),  # not a number or a date: exponential backoff from 0.5 s
    ("-5", 0, 0),
])
def test_retry_after_forms(retry_after: str, low: float, high: float, monkeypatch: pytest.MonkeyPatch):
    waits: list[float] = []
    monkeypatch.setattr(transport_module.time, "sleep", waits.append)
    with HostileServer(too_many_requests(retry_after)) as server, _transport(server.url) as transport:
        transport.send("GET", "/Users")
    assert low <= waits[0] <= high, waits


def test_retry_after_as_an_http_date_is_honoured(monkeypatch: pytest.MonkeyPatch):
    waits: list[float] = []
    monkeypatch.setattr(transport_module.time, "sleep", waits.append)
    with HostileServer(too_many_requests(formatdate(time.time() + 5, usegmt=True))) as server, \
            _transport(server.url) as transport:
        transport.send("GET", "/Users")
    assert 3 <= waits[0] <= 5, waits


def test_a_redirect_to_another_host_is_not_followed_and_the_token_stays_here():
    try:
        other = HostileServer(answer(200, OK), host="127.0.0.2")
    except OSError as exc:  # pragma: no cover - loopback aliases exist on Linux
        pytest.skip(f"cannot listen on 127.0.0.2: {exc}")
    with other, HostileServer(redirect(f"{other.url}/scim/v2/Users")) as server, \
            _transport(server.url) as transport:
        exchange = transport.send("GET", "/Users")
    assert exchange.received is not None and exchange.received.status == 302
    assert server.requests[0].header("authorization") == f"Bearer {TOKEN}"  # sanity: it was sent here
    assert other.requests == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_marks_the_target_down_and_an_answer_clears_it():
    with _transport(f"http://127.0.0.1:{_closed_port()}") as transport:
        exchange = transport.send("GET", "/Users")
        assert exchange.error is not None and "Connection refused" in exchange.error
        assert "is the server running" in exchange.error
        assert transport.down_reason is not None and "Connection refused" in transport.down_reason
    with HostileServer(answer(200, OK)) as server, _transport(server.url) as transport:
        transport.down_reason = "stale"
        transport.send("GET", "/Users")
        assert transport.down_reason is None


def test_a_name_that_does_not_resolve_says_so():
    with _transport("http://scim-conformance-test.invalid") as transport:
        exchange = transport.send("GET", "/Users")
    assert exchange.error is not None and exchange.error.startswith("ConnectError: ")
    assert "the host name of the base URL does not resolve" in exchange.error
    assert transport.down_reason is not None


def test_tls_is_verified_by_default_and_verify_false_turns_it_off(tmp_path: Path):
    with self_signed_context(tmp_path) as context, HostileServer(answer(200, OK), tls=context) as server:
        with _transport(server.url) as transport:
            refused = transport.send("GET", "/Users")
            assert transport.down_reason is not None and "CERTIFICATE_VERIFY_FAILED" in transport.down_reason
        with _transport(server.url, verify=False) as transport:
            accepted = transport.send("GET", "/Users")
    assert refused.error is not None and "tls.verify: false, or --insecure" in refused.error
    assert accepted.received is not None and accepted.received.status == 200
    assert len(server.requests) == 1  # the verifying client sent nothing, not even its token


# --- one deadline per exchange: connect, headers and body together ----------------------------

def test_headers_that_drip_forever_time_out_at_the_exchange_deadline():
    with HostileServer(drip_headers) as server, _transport(server.url, read=1, connect=1) as transport:
        started = time.monotonic()
        exchange = transport.send("GET", "/Users")
        elapsed = time.monotonic() - started
    assert exchange.received is None and exchange.error is not None
    assert exchange.error.startswith("timed out: the status line and headers of the answer were still not complete "
                                     "after 3.0s; the server sends its answer too slowly (one exchange may take 3 s: "
                                     "timeouts.exchange"), exchange.error
    assert 2.9 < elapsed < 3.5  # the deadline itself: each byte came well within the 1 s read timeout


def test_the_deadline_holds_over_tls(tmp_path: Path):
    with self_signed_context(tmp_path) as context, HostileServer(drip_headers, tls=context) as server, \
            _transport(server.url, read=1, connect=1, verify=False) as transport:
        started = time.monotonic()
        exchange = transport.send("GET", "/Users")
        elapsed = time.monotonic() - started
    assert exchange.error is not None and "status line and headers of the answer were still not complete" \
        in exchange.error
    assert 2.9 < elapsed < 3.5


def test_the_deadline_holds_through_a_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with HostileServer(drip_headers) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("http_proxy", proxy.url)
        with _transport("http://scim.example.invalid", read=1, connect=1) as transport:
            started = time.monotonic()
            exchange = transport.send("GET", "/Users")
            elapsed = time.monotonic() - started
    assert proxy.requests, "the request did not go through the proxy"
    assert exchange.error is not None and "status line and headers of the answer were still not complete" \
        in exchange.error
    assert 2.9 < elapsed < 3.5


def test_timeouts_exchange_in_the_profile_sets_the_deadline():
    with HostileServer(drip) as server, Transport(TargetProfile(
            id="hostile", base_url=f"{server.url}/scim/v2", connect_timeout=1, read_timeout=1,
            exchange_timeout=1.5), TOKEN) as transport:
        started = time.monotonic()
        exchange = transport.send("GET", "/Users")
        elapsed = time.monotonic() - started
    assert transport.answer_deadline_s == 1.5
    assert exchange.error is not None and exchange.error.startswith(
        "timed out: the answer (status 200) was still not complete after 1.5s")
    assert "one exchange may take 1.5 s" in exchange.error
    assert 1.4 < elapsed < 2


def test_three_unanswered_exchanges_in_a_row_mark_the_target_silent_and_an_answer_clears_it():
    with HostileServer(hang) as server, _transport(server.url, read=0.3) as transport:
        started = time.monotonic()
        for sent in range(1, SILENT_AFTER + 1):
            assert transport.silent_reason is None, sent
            transport.send("GET", "/Users")
        elapsed = time.monotonic() - started
        assert transport.silent_reason is not None
        assert transport.silent_reason.startswith(f"{SILENT_AFTER} requests in a row got no answer in time; the "
                                                  "last: timed out (ReadTimeout) after 0.3s; raise timeouts.read")
        assert transport.down_reason is None  # it takes connections: not down
        server.behaviour = answer(200, OK)
        transport.send("GET", "/Users")
        assert transport.silent_reason is None
    assert elapsed < SILENT_AFTER * 0.3 + 1.5


def test_a_time_limit_cuts_an_exchange_short_and_stops_the_next_ones_without_counting_them():
    with HostileServer(hang) as server, _transport(server.url, read=5) as transport:
        with transport.time_limit(0.5, "the test's limit"):
            started = time.monotonic()
            cut = transport.send("GET", "/Users")
            elapsed = time.monotonic() - started
            later = [transport.send("GET", "/Users") for _ in range(SILENT_AFTER)]
    assert cut.error == "timed out after 0.5s: the test's limit ran out"
    assert 0.45 < elapsed < 1
    assert {e.error for e in later} == {"not sent: the test's limit ran out"}
    assert len(server.requests) == 1  # the later ones were never sent
    assert transport.silent_reason is None  # our limit says nothing of the target


def test_a_time_limit_shortens_a_429_wait(monkeypatch: pytest.MonkeyPatch):
    waits: list[float] = []
    monkeypatch.setattr(transport_module.time, "sleep", waits.append)
    with HostileServer(too_many_requests("8")) as server, _transport(server.url) as transport, \
            transport.time_limit(2, "the test's limit"):
        transport.send("GET", "/Users")
    assert waits and all(w <= 2 for w in waits), waits
