"""Small hostile HTTP servers on loopback for the hostile-target tests.

Each `HostileServer` answers every request with one behaviour (hang, drip, 50 MB, redirect, 429,
...) and records what it received, so a test can also prove what was *not* sent. Servers listen
on 127.0.0.1 (or another loopback address), run in a daemon thread, and stop when their `with`
block ends; every behaviour that waits or streams is bounded in time and size and ends as soon
as the server is stopped.
"""

from __future__ import annotations

import gzip
import http.server
import json
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Behaviour",
    "HostileServer",
    "Recorded",
    "answer",
    "drip",
    "drip_headers",
    "gzip_bomb",
    "hang",
    "huge",
    "redirect",
    "self_signed_context",
    "too_many_requests",
    "truncated",
    "users_that_hang",
]

MAX_WAIT_S = 30.0  # no behaviour keeps a connection longer than this, stopped or not
MAX_REQUEST_BODY = 1024 * 1024


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    at: float  # time.monotonic()

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # socket timeout for reading the request: a stuck client cannot hold a thread

    request_body = b""  # the body of the request being answered, for behaviours that read it

    def _any(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.request_body = self.rfile.read(length) if 0 < length <= MAX_REQUEST_BODY else b""
        self.server.owner.record(Recorded(self.command, self.path, tuple(self.headers.items()), time.monotonic()))
        try:
            self.server.owner.behaviour(self, self.server.owner.stopping)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
            self.close_connection = True  # the client gave up (as it should, for some behaviours)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any

    def log_message(self, format: str, *args: object) -> None:
        return None  # keep test output clean


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: HostileServer


Behaviour = Callable[[http.server.BaseHTTPRequestHandler, threading.Event], None]


class HostileServer:
    """An HTTP(S) server on a loopback address that answers everything with `behaviour`."""

    def __init__(self, behaviour: Behaviour, *, host: str = "127.0.0.1",
                 tls: ssl.SSLContext | None = None) -> None:
        self.behaviour = behaviour
        self.stopping = threading.Event()
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server = _Server((host, 0), _Handler)
        self._server.owner = self
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.host = host
        self.port = self._server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"hostile-{self.port}", daemon=True)

    def record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()  # every waiting or streaming behaviour ends on this
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# --- behaviours -----------------------------------------------------------------------------

def answer(status: int, body: bytes = b"", content_type: str = "application/scim+json",
           headers: dict[str, str] | None = None) -> Behaviour:
    """The same complete answer to every request."""

    def behaviour(handler: http.server.BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return behaviour


def hang(handler: http.server.BaseHTTPRequestHandler, stopping: threading.Event) -> None:
    """Read the request, then never answer (until the server stops)."""
    stopping.wait(MAX_WAIT_S)


def _drip(handler: http.server.BaseHTTPRequestHandler, stopping: threading.Event, start: bytes, byte: bytes) -> None:
    """Send `start`, then `byte` every 0.2 s until the server stops (MAX_WAIT_S at most)."""
    handler.wfile.write(start)
    handler.wfile.flush()
    deadline = time.monotonic() + MAX_WAIT_S
    while not stopping.wait(0.2) and time.monotonic() < deadline:
        handler.wfile.write(byte)
        handler.wfile.flush()


def drip(handler: http.server.BaseHTTPRequestHandler, stopping: threading.Event) -> None:
    """Answer 200 at once, then send the body one byte every 0.2 s: never a read timeout, never done."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/scim+json")
    handler.end_headers()  # no Content-Length: the body ends when the connection closes
    _drip(handler, stopping, b"{", b" ")


def drip_headers(handler: http.server.BaseHTTPRequestHandler, stopping: threading.Event) -> None:
    """Send the status line, then a header one byte every 0.2 s: never a read timeout, never done."""
    _drip(handler, stopping, b"HTTP/1.1 200 OK\r\nContent-Type: application/scim+json\r\nX-Drip: ", b"a")
    handler.close_connection = True


def users_that_hang(hangs: Callable[[str, str], bool]) -> Behaviour:
    """A minimal /Users store (create, read, delete) that never answers a request `hangs(method, path)` picks.

    Enough of a SCIM server for a scenario to create a user, hit the hanging request, and clean
    up: a create is answered with what was sent plus an id, reads return it, deletes remove it.
    """
    users: dict[str, dict[str, object]] = {}
    lock = threading.Lock()

    def behaviour(handler: http.server.BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        method, path = handler.command, handler.path
        if hangs(method, path):
            hang(handler, stopping)
            return
        user_id = path.partition("?")[0].rpartition("/Users/")[2] if "/Users/" in path else ""
        with lock:
            if method == "POST" and path.endswith("/Users"):
                body = json.loads(getattr(handler, "request_body", b"") or b"{}")
                user_id = f"u{len(users) + 1}"
                users[user_id] = {**body, "id": user_id}
                status, answer_body = 201, users[user_id]
            elif method == "GET" and user_id in users:
                status, answer_body = 200, users[user_id]
            elif method == "DELETE" and users.pop(user_id, None) is not None:
                status, answer_body = 204, None
            else:
                status, answer_body = 404, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                                            "status": "404"}
        answer(status, json.dumps(answer_body).encode() if answer_body is not None else b"")(handler, stopping)

    return behaviour


def truncated(handler: http.server.BaseHTTPRequestHandler, stopping: threading.Event) -> None:
    """Promise 1000 bytes of JSON, send 58, close the connection."""
    body = b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListRe'
    handler.send_response(200)
    handler.send_header("Content-Type", "application/scim+json")
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()
    handler.close_connection = True


def huge(size: int = 50 * 1024 * 1024) -> Behaviour:
    """A 200 JSON answer of `size` bytes, streamed without Content-Length (HTTP/1.0, ends on close)."""
    chunk = b" " * (1024 * 1024)

    def behaviour(handler: http.server.BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/scim+json")
        handler.end_headers()
        handler.wfile.write(b'{"Resources": ["')
        sent = 0
        while sent < size and not stopping.is_set():
            handler.wfile.write(chunk)
            sent += len(chunk)

    return behaviour


def gzip_bomb(size: int = 50 * 1024 * 1024) -> Behaviour:
    """A small gzip body (about 50 kB) that inflates to `size` bytes."""
    packed = gzip.compress(b" " * size, compresslevel=9)
    return answer(200, packed, headers={"Content-Encoding": "gzip"})


def redirect(location: str, status: int = 302) -> Behaviour:
    """Send the client somewhere else."""
    return answer(status, b"", content_type="text/plain", headers={"Location": location})


def too_many_requests(retry_after: str) -> Behaviour:
    """429 Too Many Requests with a Retry-After header, to every request."""
    body = json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "429",
                       "detail": "slow down"}).encode()
    return answer(429, body, headers={"Retry-After": retry_after})


# --- TLS --------------------------------------------------------------------------------------

@contextmanager
def self_signed_context(folder: Path) -> Iterator[ssl.SSLContext]:
    """A server-side TLS context with a fresh self-signed certificate for 127.0.0.1."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    yield context
