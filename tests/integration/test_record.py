"""`scim-conformance record` and `import` against real servers on 127.0.0.1.

The recorder sits in front of the embedded scim2-server while the Entra suite's requests go
through it; the scenario it writes must lint, replay green against the same server, and fail
against a server that deviates in a recorded behaviour. Neither the scenario nor the log may hold
the token or a password. Stdlib upstreams check what a proxy must do: pass bytes unchanged,
stream, serve concurrent requests and record them in order of arrival.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conformance.engine.embedded import EmbeddedServer
from conformance.recording.compiler import build_scenario
from conformance.recording.proxy import Recorder
from tests.support.deviating_proxy import CATALOGUE, DeviatingProxy
from tests.support.deviations_entra import ENTRA_DEVIATIONS
from tests.support.runs import DISTINCTIVE_TOKEN, REPO, embedded_target, run_scenarios

ENTRA = ("scenarios/entra/update-user.scenario.yaml", "scenarios/entra/disable-user.scenario.yaml")
RUN_ID = "rec7qz"
PASSWORD = "Pw-Rec-4q8Zk2!xV"
SECOND_PASSWORD = "Pw-Rec-second-7Lm3!"
COOKIE = "ck-Rec-9a8b7c6d5e4f"
QUERY_TOKEN = "qt-Rec-1a2b3c4d5e6f"
SECRETS = (DISTINCTIVE_TOKEN, PASSWORD, SECOND_PASSWORD, COOKIE, QUERY_TOKEN)


# --------------------------------------------------------------------------- helpers


def _start_cli(target: str, out: Path, *args: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`scim-conformance record` in a child process; its URL once it listens, and its console file."""
    console = out.parent / f"{out.name}.console"
    out.parent.mkdir(parents=True, exist_ok=True)
    with console.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "conformance", "record", "--target", target, "--listen", "127.0.0.1:0",
             "--out", str(out), *args],
            cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = re.search(r"point the IdP at (\S+)", console.read_text(encoding="utf-8", errors="replace"))
        if found:
            return process, found.group(1), console
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"the recorder did not start: {console.read_text(errors='replace')}")


def _stop_cli(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conformance", "lint", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)


def _traffic_with_secrets(url: str) -> None:
    """What the Entra suite does not send: a password, a cookie, a token in the query."""
    headers = {"Authorization": f"Bearer {DISTINCTIVE_TOKEN}", "Content-Type": "application/scim+json",
               "Cookie": f"ARRAffinity={COOKIE}; lang=en"}
    with httpx.Client(base_url=url + "/", headers=headers, timeout=10) as client:
        created = client.post("Users", json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "mallory.direct@corp.example",
            "password": PASSWORD, "name": {"givenName": "Mallory", "familyName": "Direct"}, "active": True})
        assert created.status_code == 201, created.text
        user_id = created.json()["id"]
        changed = client.patch(f"Users/{user_id}", json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "password", "value": SECOND_PASSWORD}]})
        assert changed.status_code in (200, 204), changed.text
        found = client.get("Users", params={"filter": 'userName eq "mallory.direct@corp.example"',
                                            "access_token": QUERY_TOKEN})
        assert found.status_code == 200, found.text
        assert client.delete(f"Users/{user_id}").status_code == 204


# --------------------------------------------------------------------------- the Entra suite, recorded


def test_the_recorded_entra_suite_replays_and_catches_deviations(scim_server: EmbeddedServer, tmp_path: Path):
    out = tmp_path / "recorded" / "entra.scenario.yaml"
    log = tmp_path / "record.log"
    process, url, console = _start_cli(scim_server.base_url, out, "--idp", "entra", "--log", str(log))
    try:
        started = time.monotonic()
        through = run_scenarios(embedded_target(url, tmp_path / "via"), tmp_path / "reports-via", "--idp", "entra",
                                "--scim-run-id", RUN_ID, paths=ENTRA)
        assert through.code == 0, through.output[-3000:]
        assert "2 passed" in through.output
        _traffic_with_secrets(url)
        recorded_in = time.monotonic() - started
    finally:
        code = _stop_cli(process)
    shown = console.read_text(encoding="utf-8")
    assert code == 0, shown
    assert "lint: no problems" in shown

    text = out.read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    lines = log.read_text(encoding="utf-8").splitlines()
    # Every request that passed is one log line and one step, in order of arrival (#1, #2, ...).
    assert len(lines) >= 28
    assert len(doc["steps"]) == len(lines)
    assert sorted(int(re.search(r" #(\d+) ", line).group(1)) for line in lines) == list(range(1, len(lines) + 1))
    assert doc["idps"] == ["entra"]
    assert text.startswith("# Recorded by `scim-conformance record` from ")
    assert _lint(out).returncode == 0

    # No token, no password, no cookie anywhere; and none of the run's personal data in the scenario.
    for where, content in (("scenario", text), ("log", log.read_text(encoding="utf-8")), ("console", shown)):
        for secret in SECRETS:
            assert secret not in content, f"a secret is in the {where}"
    assert f"scimc-{RUN_ID}" not in text and f"({RUN_ID}-" not in text and "mallory" not in text.lower()
    assert "${user_1.userName}" in text and "capture:" in text and "${user_1_id}" in text
    passwords = [s for s in doc["steps"] if "password" in json.dumps(s.get("request", {}).get("body", {}))]
    assert len(passwords) == 2 and all(".password}" in json.dumps(s["request"]["body"]) for s in passwords)
    assert not any("access_token" in json.dumps(s["request"]) for s in doc["steps"])

    # Replayed against the same server: green.
    started = time.monotonic()
    replay = run_scenarios(embedded_target(scim_server.base_url, tmp_path / "direct"), tmp_path / "reports-replay",
                           paths=(str(out),))
    replayed_in = time.monotonic() - started
    assert replay.code == 0, replay.output[-3000:]
    assert "1 passed" in replay.output
    # Replayed against a server that deviates in a recorded behaviour: red, at the right place.
    for deviation, words in (
        (ENTRA_DEVIATIONS["false-string-treated-as-true"], "$.active: expected false, got true"),
        (CATALOGUE["create-returns-200"], "expected status 201, got 200"),
    ):
        with DeviatingProxy(scim_server.base_url, [deviation]) as proxy:
            result = run_scenarios(embedded_target(proxy.url, tmp_path / deviation.name),
                                   tmp_path / f"reports-{deviation.name}", paths=(str(out),))
        assert result.code == 1, f"{deviation.name} was not caught:\n{result.output[-3000:]}"
        assert words in result.output, result.output[-3000:]
    print(f"recorded {len(lines)} requests in {recorded_in:.1f}s, replayed in {replayed_in:.1f}s")


def test_concurrent_requests_against_the_real_server_are_all_recorded_without_crosstalk(
        scim_server: EmbeddedServer, tmp_path: Path):
    clients = 12
    barrier = threading.Barrier(clients)
    answers: dict[int, Any] = {}

    def one(number: int, url: str) -> None:
        headers = {"Authorization": f"Bearer {DISTINCTIVE_TOKEN}", "Content-Type": "application/scim+json"}
        with httpx.Client(base_url=url + "/", headers=headers, timeout=20) as client:
            barrier.wait(timeout=10)
            answer = client.post("Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                                "userName": f"burst-{number}@corp.example"})
            answers[number] = (answer.status_code, answer.json().get("userName"))
            client.delete(f"Users/{answer.json()['id']}")

    with Recorder(scim_server.base_url) as recorder:
        threads = [threading.Thread(target=one, args=(n, recorder.url)) for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert answers == {n: (201, f"burst-{n}@corp.example") for n in range(clients)}
    exchanges = recorder.exchanges()
    assert len(exchanges) == 2 * clients
    assert sorted(e.method for e in exchanges) == ["DELETE"] * clients + ["POST"] * clients
    recording = build_scenario(exchanges, base_url=scim_server.base_url, scenario_id="recorded-burst")
    out = tmp_path / "burst.scenario.yaml"
    out.write_text(recording.text, encoding="utf-8")
    assert recording.steps == 2 * clients
    replay = run_scenarios(embedded_target(scim_server.base_url, tmp_path / "t"), tmp_path / "r", paths=(str(out),))
    assert replay.code == 0, replay.output[-3000:]


# --------------------------------------------------------------------------- proxy behaviour on stdlib upstreams


class _Upstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.seen: list[dict[str, Any]] = []
        self.active = 0
        self.most_active = 0
        self.lock = threading.Lock()
        self.first_chunk_received = threading.Event()
        self.streamed: bool | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/scim/v2"


@pytest.fixture
def upstream(request: pytest.FixtureRequest) -> Iterator[_Upstream]:
    server = _Upstream(request.param)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class _SlowList(BaseHTTPRequestHandler):
    """GET ...?marker=N&delay=S answers after S seconds; counts requests in progress."""

    protocol_version = "HTTP/1.1"
    server: _Upstream

    def do_GET(self) -> None:
        query = dict(p.split("=", 1) for p in self.path.partition("?")[2].split("&") if "=" in p)
        with self.server.lock:
            self.server.active += 1
            self.server.most_active = max(self.server.most_active, self.server.active)
        time.sleep(float(query.get("delay", "0")))
        with self.server.lock:
            self.server.active -= 1
        body = json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0,
                           "Resources": [], "marker": query.get("marker")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/scim+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("upstream", [_SlowList], indirect=True)
def test_concurrent_requests_are_all_recorded_in_order_of_arrival(upstream: _Upstream):
    count = 8
    finished: list[int] = []

    clients = [httpx.Client(timeout=20) for _ in range(count)]  # made beforehand: sending is all that is timed

    def one(number: int, url: str) -> None:
        # The first to arrive is the slowest to answer: answers come back in reverse order.
        delay = (count - number) * 0.2
        response = clients[number].get(f"{url}/Users", params={"marker": number, "delay": delay})
        assert response.json()["marker"] == str(number)
        finished.append(number)

    with Recorder(upstream.url) as recorder:
        threads = []
        for number in range(count):
            threads.append(threading.Thread(target=one, args=(number, recorder.url)))
            threads[-1].start()
            time.sleep(0.1)
        for thread in threads:
            thread.join(timeout=30)
    for client in clients:
        client.close()
    assert sorted(finished) == list(range(count))
    assert finished != sorted(finished)  # they did overlap and finish out of order
    assert upstream.most_active >= count // 2  # the recorder did not serialise them
    markers = [re.search(r"marker=(\d+)", e.target).group(1) for e in recorder.exchanges()]
    assert markers == [str(n) for n in range(count)]  # recorded in order of arrival, all of them
    recording = build_scenario(recorder.exchanges(), base_url=upstream.url, scenario_id="recorded-order")
    steps = yaml.safe_load(recording.text)["steps"]
    assert [s["request"]["query"]["marker"] for s in steps] == [str(n) for n in range(count)]


class _Echo(BaseHTTPRequestHandler):
    """Keeps the request as it arrived; answers with odd headers and a gzip body."""

    protocol_version = "HTTP/1.1"
    server: _Upstream
    ANSWER = json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u1",
                         "userName": "echo@corp.example"}).encode()

    def _any(self) -> None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or ""):
            body = b""
            while (size := int(self.rfile.readline().strip() or b"0", 16)):
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append({"method": self.command, "path": self.path, "headers": list(self.headers.items()),
                                 "body": body})
        compressed = gzip.compress(self.ANSWER)
        self.send_response_only(201, "Created It Is")
        self.send_header("Content-Type", "application/scim+json; charset=utf-8")
        self.send_header("X-Odd-Header", "Some Value")
        self.send_header("Set-Cookie", "upstream=1; HttpOnly")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(compressed)))
        self.send_header("Keep-Alive", "timeout=5")
        self.end_headers()
        self.wfile.write(compressed)

    do_POST = do_PATCH = _any

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("upstream", [_Echo], indirect=True)
def test_requests_and_answers_pass_unchanged_but_for_hop_by_hop_headers(upstream: _Upstream):
    body = b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],  "userName": "echo@corp.example"}'
    with Recorder(upstream.url) as recorder:
        host, port = recorder.url.split("//")[1].split("/")[0].split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.putrequest("POST", "/scim/v2/Users?x=1%202", skip_host=True, skip_accept_encoding=True)
        sent = [("Host", f"{host}:{port}"), ("X-Custom-CASE", "a, b"), ("Authorization", "Bearer tok-echo-123456"),
                ("Content-Type", "application/scim+json"), ("Connection", "keep-alive, X-Drop-Me"),
                ("X-Drop-Me", "hop"), ("TE", "trailers"), ("Accept-Encoding", "gzip"),
                ("Content-Length", str(len(body)))]
        for name, value in sent:
            connection.putheader(name, value)
        connection.endheaders(body)
        answer = connection.getresponse()
        raw = answer.read()
        status, reason, headers = answer.status, answer.reason, answer.getheaders()
        # The same connection again, with a chunked body.
        connection.request("PATCH", "/scim/v2/Users/u1", body=iter([b'{"a":', b' 1}']),
                           headers={"Content-Type": "application/scim+json"}, encode_chunked=True)
        second = connection.getresponse()
        assert second.status == 201, second.read()
        second.read()
        connection.close()
    first_in, second_in = upstream.seen
    assert first_in["path"] == "/scim/v2/Users?x=1%202"
    assert first_in["body"] == body
    assert first_in["headers"] == [
        ("Host", f"127.0.0.1:{upstream.server_address[1]}"), ("X-Custom-CASE", "a, b"),
        ("Authorization", "Bearer tok-echo-123456"), ("Content-Type", "application/scim+json"),
        ("Accept-Encoding", "gzip"), ("Content-Length", str(len(body)))]
    assert second_in["body"] == b'{"a": 1}'
    assert (status, reason) == (201, "Created It Is")
    assert gzip.decompress(raw) == _Echo.ANSWER  # still compressed: the bytes the target sent
    names = [name for name, _ in headers]
    assert ("X-Odd-Header", "Some Value") in headers and ("Set-Cookie", "upstream=1; HttpOnly") in headers
    assert ("Content-Encoding", "gzip") in headers and "Keep-Alive" not in names
    recorded = recorder.exchanges()[0]
    assert json.loads(recorded.response_body) == json.loads(_Echo.ANSWER)  # the copy is decoded
    assert ("Authorization", "Bearer tok-echo-123456") in recorded.request_headers


class _Drip(BaseHTTPRequestHandler):
    """A chunked answer whose second half waits until the client has the first half."""

    protocol_version = "HTTP/1.1"
    server: _Upstream

    def do_GET(self) -> None:
        self.send_response_only(200)
        self.send_header("Content-Type", "application/scim+json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        first = b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], '
        self.wfile.write(b"%x\r\n%s\r\n" % (len(first), first))
        self.wfile.flush()
        self.server.streamed = self.server.first_chunk_received.wait(timeout=5)
        rest = b'"totalResults": 0, "Resources": []}'
        self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(rest), rest))
        self.wfile.flush()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("upstream", [_Drip], indirect=True)
def test_answers_are_streamed_not_buffered(upstream: _Upstream):
    with Recorder(upstream.url) as recorder, httpx.Client(timeout=20) as client:
        with client.stream("GET", f"{recorder.url}/Users") as response:
            chunks = response.iter_raw()
            first = next(chunks)
            upstream.first_chunk_received.set()
            rest = b"".join(chunks)
    assert first.startswith(b'{"schemas"')
    assert upstream.streamed is True, "the client got nothing before the target finished its answer"
    assert json.loads(first + rest)["totalResults"] == 0
    assert json.loads(recorder.exchanges()[0].response_body)["totalResults"] == 0


# --------------------------------------------------------------------------- the command's bounds


def test_record_stops_by_itself_after_max_requests_or_duration(scim_server: EmbeddedServer, tmp_path: Path):
    out = tmp_path / "two.scenario.yaml"
    process, url, console = _start_cli(scim_server.base_url, out, "--max-requests", "2")
    try:
        for _ in range(2):
            httpx.get(f"{url}/ServiceProviderConfig", headers={"Authorization": f"Bearer {DISTINCTIVE_TOKEN}"})
        code = process.wait(timeout=30)  # no signal: it stops by itself
    finally:
        _stop_cli(process)
    assert code == 0, console.read_text()
    assert len(yaml.safe_load(out.read_text())["steps"]) == 2

    empty = tmp_path / "empty.scenario.yaml"
    process, _, console = _start_cli(scim_server.base_url, empty, "--duration", "1")
    try:
        code = process.wait(timeout=30)
    finally:
        _stop_cli(process)
    assert code == 1
    assert "Nothing was recorded" in console.read_text()
    assert not empty.exists()


# --------------------------------------------------------------------------- HAR import


HAR_TOKEN = "har-tok-Q3w9E8r7T6y5U4i3"
HAR_PASSWORD = "Har-Pw-5t6y7u8i!"
HAR_COOKIE = "har-ck-1q2w3e4r5t6y"
HAR_ID = "6f1c2d3e4b5a49688776655443322110"
HAR_BASE = "https://scim.corp.example/scim/v2"


def _har() -> dict[str, Any]:
    created = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": HAR_ID,
               "meta": {"resourceType": "User", "created": "2026-02-03T04:05:06Z",
                        "lastModified": "2026-02-03T04:05:06Z", "location": f"{HAR_BASE}/Users/{HAR_ID}",
                        "version": 'W/"1"'},
               "userName": "alice.liddell@corp.example", "name": {"familyName": "Liddell", "givenName": "Alice"},
               "active": True, "emails": [{"value": "alice.liddell@corp.example", "primary": True}],
               "phoneNumbers": [{"value": "+44 20 7946 0958", "type": "work"}]}
    sent = [{"name": "Authorization", "value": f"Bearer {HAR_TOKEN}"},
            {"name": "Cookie", "value": f"ARRAffinity={HAR_COOKIE}"},
            {"name": "Accept", "value": "application/scim+json"}]
    scim = [{"name": "Content-Type", "value": "application/scim+json"}]

    def entry(started: str, method: str, url: str, status: int, answer: Any = None, body: Any = None,
              answer_headers: list[dict[str, str]] | None = None) -> dict[str, Any]:
        request: dict[str, Any] = {"method": method, "url": url, "httpVersion": "HTTP/1.1",
                                   "headers": sent + (scim if body is not None else []), "queryString": [],
                                   "cookies": [{"name": "ARRAffinity", "value": HAR_COOKIE}],
                                   "headersSize": -1, "bodySize": -1}
        if body is not None:
            request["postData"] = {"mimeType": "application/scim+json", "text": json.dumps(body)}
        text = json.dumps(answer) if answer is not None else ""
        content: dict[str, Any] = {"size": len(text), "mimeType": "application/scim+json"}
        if text:  # one answer base64-encoded, as browsers store some
            content.update({"text": base64.b64encode(text.encode()).decode(), "encoding": "base64"}
                           if method == "GET" and status == 200 else {"text": text})
        return {"startedDateTime": started, "time": 12, "request": request,
                "response": {"status": status, "statusText": "", "httpVersion": "HTTP/1.1",
                             "headers": (scim if text else []) + (answer_headers or []), "cookies": [],
                             "content": content, "redirectURL": "", "headersSize": -1, "bodySize": -1},
                "cache": {}, "timings": {"send": 0, "wait": 12, "receive": 0}}

    return {"log": {"version": "1.2", "creator": {"name": "HandWritten", "version": "1.0"}, "entries": [
        entry("2026-02-03T04:05:07.000Z", "POST", f"{HAR_BASE}/Users", 201, created,
              {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice.liddell@corp.example",
               "password": HAR_PASSWORD, "name": {"givenName": "Alice", "familyName": "Liddell"},
               "emails": [{"value": "alice.liddell@corp.example", "primary": True}],
               "phoneNumbers": [{"value": "+44 20 7946 0958", "type": "work"}], "active": True},
              [{"name": "Location", "value": f"{HAR_BASE}/Users/{HAR_ID}"}, {"name": "ETag", "value": 'W/"1"'}]),
        entry("2026-02-03T04:05:06.000Z", "GET",
              f"{HAR_BASE}/Users?filter=userName%20eq%20%22alice.liddell%40corp.example%22", 200,
              {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0,
               "startIndex": 1, "itemsPerPage": 0, "Resources": []}),
        entry("2026-02-03T04:05:08.000Z", "GET", f"{HAR_BASE}/Users/{HAR_ID}", 200, created,
              answer_headers=[{"name": "ETag", "value": 'W/"1"'}]),
        entry("2026-02-03T04:05:08.500Z", "GET", "https://portal.corp.example/favicon.ico", 200),
        entry("2026-02-03T04:05:09.000Z", "DELETE", f"{HAR_BASE}/Users/{HAR_ID}", 204),
    ]}}


def test_a_har_file_becomes_a_scenario_without_secrets_that_replays(scim_server: EmbeddedServer, tmp_path: Path):
    har = tmp_path / "portal.har"
    har.write_text(json.dumps(_har(), indent=1), encoding="utf-8")
    out = tmp_path / "recorded" / "portal.scenario.yaml"
    imported = subprocess.run([sys.executable, "-m", "conformance", "import", str(har), "--out", str(out)],
                              cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "lint: no problems" in imported.stdout
    assert "favicon" in imported.stdout  # the entry to another URL is said to be skipped
    text = out.read_text(encoding="utf-8")
    for secret in (HAR_TOKEN, HAR_PASSWORD, HAR_COOKIE):
        assert secret not in text, secret
    assert not re.search(r"^\s*(Authorization|Cookie):", text, re.MULTILINE | re.IGNORECASE)
    for personal in ("alice", "Liddell", "7946", HAR_ID):
        assert personal not in text, personal
    assert text.startswith("# Imported by `scim-conformance import` from portal.har (HAR by HandWritten 1.0)")
    doc = yaml.safe_load(text)
    assert [(s["request"]["method"], s["expect"]["status"]) for s in doc["steps"]] == [
        ("GET", 200), ("POST", 201), ("GET", 200), ("DELETE", 204)]  # in the order they started
    assert doc["steps"][1]["request"]["body"]["password"] == "${user_1.password}"
    assert doc["steps"][2]["request"]["path"] == "/Users/${user_1_id}"
    assert _lint(out).returncode == 0
    replay = run_scenarios(embedded_target(scim_server.base_url, tmp_path / "t"), tmp_path / "r", paths=(str(out),))
    assert replay.code == 0, replay.output[-3000:]
    assert "1 passed" in replay.output
