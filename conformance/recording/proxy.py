"""The recording reverse proxy behind `scim-conformance record`: it stands between an IdP and a SCIM server.

The IdP (or any SCIM client) is pointed at the recorder instead of the server. Each request is
forwarded to the target as it came: same method, request target, headers (in their order and
spelling) and body bytes; only the hop-by-hop headers (RFC 9110 §7.6.1) are the recorder's own,
and Host names the target. The answer goes back the same way: status, reason, headers and body
bytes as the target sent them (a compressed body stays compressed). Bodies are streamed in both
directions, chunk by chunk, while a copy (at most 10 MB per body) is kept for the scenario.

Every client connection is served by its own thread, with its own keep-alive connection to the
target, so an IdP's parallel requests stay parallel. Each request gets a sequence number the
moment its head has been read; the scenario lists requests in that order of arrival.

What was recorded (`Recorder.exchanges()`, a list of `Observed`) becomes a scenario through
`conformance.recording.compiler`. Secrets are never written to the log, which has one line per
request with credentials and secret query values masked.
"""

from __future__ import annotations

import contextlib
import http.client
import select
import ssl
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any
from urllib.parse import parse_qsl, quote, urlsplit

from conformance.engine.redact import MASK, Redactor, is_sensitive_header, is_sensitive_query_name
from conformance.recording.observed import HOP_BY_HOP, Observed

__all__ = ["MAX_RECORDED_BODY", "Recorder"]

MAX_RECORDED_BODY = 10 * 1024 * 1024  # per body; the rest still passes through, unrecorded
_CHUNK = 64 * 1024
_UPSTREAM_TIMEOUT = 60.0  # Okta waits 60 s for an answer; so may the target
_IDLE_TIMEOUT = 60  # an idle keep-alive connection from the IdP is closed after this
_STOP_GRACE = 10.0  # how long a stop waits for requests in flight


@dataclass
class _Arrival:
    seq: int
    recorded: bool  # False once --max-requests is reached or the recording is stopping


class Recorder:
    """The proxy: `start()`, point clients at `url`, `stop()`, then `exchanges()`.

    `target` is the SCIM base URL of the real server (its path and query are kept: the recorder
    forwards request targets unchanged, so clients use `url`, which has the same path).
    """

    def __init__(
        self,
        target: str,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        *,
        verify: bool | str = True,
        max_requests: int | None = None,
        log: IO[str] | None = None,
        echo: IO[str] | None = None,
        upstream_timeout: float = _UPSTREAM_TIMEOUT,
    ) -> None:
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the target must be an http(s) URL, got {target!r}")
        self.target = target
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._host_header = parts.netloc.rpartition("@")[2]  # never forward userinfo
        self._base_path = parts.path.rstrip("/")
        self._base_query = parts.query
        self._listen = listen
        self._verify = verify
        self.max_requests = max_requests
        self._log = log
        self._echo = echo
        self.upstream_timeout = upstream_timeout
        self.redactor = Redactor()
        self.limit_reached = threading.Event()
        self._lock = threading.Condition()
        self._next_seq = 0
        self._in_flight = 0
        self._stopping = False
        self._exchanges: dict[int, Observed] = {}
        self._finished = 0  # requests within --max-requests that are done, recorded or not
        self.unanswered = 0  # requests the target did not answer (the client got a 502)
        self.incomplete = 0  # requests still in flight when the recording stopped
        self.started_at: datetime | None = None
        self.stopped_at: datetime | None = None
        self._server: _Server | None = None
        self._address: tuple[str, int] | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle

    @property
    def url(self) -> str:
        """The URL to give the IdP: the recorder's address with the target's base path and query."""
        if self._address is None:
            raise RuntimeError("the recorder is not started")
        host, port = self._address
        shown = f"[{host}]" if ":" in str(host) else host
        query = f"?{self._base_query}" if self._base_query else ""
        return f"http://{shown}:{port}{self._base_path}{query}"

    def start(self) -> Recorder:
        """Listen (on `listen`; port 0 picks a free one) and serve in a background thread."""
        server = _Server(self._listen, _Handler)
        server.recorder = self
        self._server = server
        self._address = (str(server.server_address[0]), int(server.server_address[1]))
        self.started_at = datetime.now(UTC)
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="scim-recorder", daemon=True)
        self._thread.start()
        return self

    def stop(self, grace: float = _STOP_GRACE) -> None:
        """Stop accepting requests, wait (up to `grace` s) for those in flight. Safe to call twice."""
        with self._lock:
            self._stopping = True
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        deadline = time.monotonic() + grace
        with self._lock:
            while self._in_flight and time.monotonic() < deadline:
                self._lock.wait(timeout=max(0.0, deadline - time.monotonic()))
            self.incomplete = self._in_flight
        if self._thread is not None:
            self._thread.join(timeout=grace)
        if self.stopped_at is None:
            self.stopped_at = datetime.now(UTC)

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def exchanges(self) -> list[Observed]:
        """What was recorded, in order of arrival."""
        with self._lock:
            return [self._exchanges[seq] for seq in sorted(self._exchanges)]

    @property
    def seen(self) -> int:
        """How many requests arrived, recorded or not."""
        with self._lock:
            return self._next_seq

    # -- bookkeeping, called by the handler threads

    def _arrive(self) -> _Arrival | None:
        """A sequence number for a request whose head was just read; None while stopping."""
        with self._lock:
            if self._stopping:
                return None
            self._next_seq += 1
            self._in_flight += 1
            recorded = self.max_requests is None or self._next_seq <= self.max_requests
            return _Arrival(self._next_seq, recorded)

    def _done(self, arrival: _Arrival, exchange: Observed | None, line: str, *, unanswered: bool = False) -> None:
        with self._lock:
            self._in_flight -= 1
            if arrival.recorded:
                self._finished += 1
                if exchange is not None:
                    self._exchanges[arrival.seq] = exchange
            self.unanswered += unanswered
            reached = self.max_requests is not None and self._finished >= self.max_requests
            self._lock.notify_all()
            # One line at a time, in the order requests finish (the log says each one's number).
            for stream in (self._log, self._echo):
                if stream is not None:
                    with contextlib.suppress(OSError, ValueError):
                        stream.write(line + "\n")
                        stream.flush()
        if reached:
            self.limit_reached.set()

    def _secret_seen(self, value: str) -> None:
        self.redactor.add_secret(value)

    # -- the upstream side

    def _connect(self) -> http.client.HTTPConnection:
        if self._scheme == "https":
            if isinstance(self._verify, str):
                context = ssl.create_default_context(cafile=self._verify)
            elif self._verify:
                context = ssl.create_default_context()
            else:
                context = ssl._create_unverified_context()  # --insecure, asked for explicitly
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.upstream_timeout,
                                               context=context)
        return http.client.HTTPConnection(self._host, self._port, timeout=self.upstream_timeout)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    recorder: Recorder

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that resets or times out is routine for a proxy; anything else is one line."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(self.recorder.redactor.text(
                f"scim-conformance record: error serving {client_address[0]}: {type(error).__name__}: {error}\n"))


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """True when an idle keep-alive connection was closed by the target (or sent garbage)."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _connection_tokens(values: list[str]) -> set[str]:
    return {token.strip().lower() for value in values for token in value.split(",") if token.strip()}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = _IDLE_TIMEOUT

    def setup(self) -> None:
        super().setup()
        self._upstream: http.client.HTTPConnection | None = None

    def finish(self) -> None:
        with contextlib.suppress(Exception):
            super().finish()
        self._close_upstream()

    def _close_upstream(self) -> None:
        if self._upstream is not None:
            with contextlib.suppress(Exception):
                self._upstream.close()
            self._upstream = None

    def log_message(self, format: str, *args: Any) -> None:  # our own log says what happened
        pass

    # -- one request

    def _proxy(self) -> None:
        recorder = self.server.recorder
        arrival = recorder._arrive()
        if arrival is None:
            self._plain_answer(503, "scim-conformance record: the recording has stopped")
            self.close_connection = True
            return
        started = time.perf_counter()
        target = self.path
        if target.startswith(("http://", "https://")):  # absolute-form: a client that thinks we are a proxy
            parts = urlsplit(target)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request_headers = list(self.headers.items())
        for name, value in request_headers:
            if is_sensitive_header(name):
                recorder._secret_seen(value)
                recorder._secret_seen(value.split(" ", 1)[-1].strip())
        exchange: Observed | None = None
        unanswered = False
        status = "no answer"
        sent = received = 0
        try:
            exchange, sent, received = self._exchange(target, request_headers)
            status = str(exchange.status)
        except _UpstreamFailed as exc:
            status = f"502 (target: {exc})"
            unanswered = True
        except (ConnectionError, TimeoutError, OSError) as exc:  # the client went away
            status = f"client gone ({type(exc).__name__})"
            self.close_connection = True
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            line = (f"{datetime.now(UTC).isoformat(timespec='milliseconds').replace('+00:00', 'Z')} "
                    f"#{arrival.seq} {self.client_address[0]} {self.command} "
                    f"{_shown_target(target, recorder.redactor)} -> {status} {elapsed:.0f} ms "
                    f"in={sent}B out={received}B" + ("" if arrival.recorded else " (not recorded)"))
            recorder._done(arrival, exchange, recorder.redactor.text(line), unanswered=unanswered)

    def _exchange(self, target: str, request_headers: list[tuple[str, str]]) -> tuple[Observed, int, int]:
        recorder = self.server.recorder
        connection_listed = _connection_tokens(self.headers.get_all("Connection") or [])
        chunked_in = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        length_header = self.headers.get("Content-Length")
        forwarded = [("Host", recorder._host_header)]
        for name, value in request_headers:
            low = name.lower()
            if low in HOP_BY_HOP or low in connection_listed or low in ("host", "expect"):
                continue
            forwarded.append((name, value))
        if chunked_in:
            forwarded.append(("Transfer-Encoding", "chunked"))
        upstream = self._upstream
        if upstream is None or _dropped(upstream):
            self._close_upstream()
            upstream = self._upstream = recorder._connect()
        body_copy = bytearray()
        sent = 0
        try:
            upstream.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
            for name, value in forwarded:
                upstream.putheader(name, value)
            upstream.endheaders()
            for chunk in self._request_body(chunked_in, length_header):
                upstream.send(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked_in else chunk)
                sent += len(chunk)
                if len(body_copy) < MAX_RECORDED_BODY:
                    body_copy += chunk[: MAX_RECORDED_BODY - len(body_copy)]
            if chunked_in:
                upstream.send(b"0\r\n\r\n")
            response = upstream.getresponse()
        except _ClientBodyError:
            self._close_upstream()
            raise ConnectionError("the request body ended early") from None
        except (OSError, http.client.HTTPException) as exc:
            self._close_upstream()
            reason = type(exc).__name__
            self._plain_answer(502, f"scim-conformance record: the target did not answer ({reason})")
            raise _UpstreamFailed(reason) from None
        return self._relay(response, target, request_headers, bytes(body_copy), sent)

    def _request_body(self, chunked: bool, length: str | None) -> Iterator[bytes]:
        if chunked:
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise _ClientBodyError
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers are hop-by-hop: not forwarded
                    return
                yield from self._read_exactly(size)
                self.rfile.readline(3)  # the CRLF after each chunk
        yield from self._read_exactly(int(length) if length and length.strip().isdigit() else 0)

    def _read_exactly(self, remaining: int) -> Iterator[bytes]:
        """`remaining` bytes of the request body, in pieces; a body that ends early is an error."""
        while remaining:
            chunk = self.rfile.read(min(_CHUNK, remaining))
            if not chunk:
                raise _ClientBodyError
            remaining -= len(chunk)
            yield chunk

    def _relay(self, response: http.client.HTTPResponse, target: str, request_headers: list[tuple[str, str]],
               request_body: bytes, sent: int) -> tuple[Observed, int, int]:
        """Send the target's answer to the client as it comes; return what was recorded."""
        response_headers = list(response.msg.items())
        listed = _connection_tokens(response.msg.get_all("Connection") or [])
        no_body = self.command == "HEAD" or response.status in (204, 304) or 100 <= response.status < 200
        length = response.msg.get("Content-Length")
        framed_by_length = length is not None and "chunked" not in (response.msg.get("Transfer-Encoding") or "")
        self.send_response_only(response.status, response.reason)
        for name, value in response_headers:
            low = name.lower()
            if low in HOP_BY_HOP or low in listed:
                continue
            self.send_header(name, value)
        rechunk = False
        if not no_body and not framed_by_length:
            if self.request_version == "HTTP/1.1":
                self.send_header("Transfer-Encoding", "chunked")
                rechunk = True
            else:
                self.close_connection = True  # HTTP/1.0: the body ends when the connection does
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        copy = bytearray()
        complete = True
        received = 0
        try:
            if not no_body:
                while True:
                    chunk = response.read1(_CHUNK)
                    if not chunk:
                        break
                    received += len(chunk)
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if rechunk else chunk)
                    self.wfile.flush()
                    if len(copy) < MAX_RECORDED_BODY:
                        copy += chunk[: MAX_RECORDED_BODY - len(copy)]
                    else:
                        complete = False
                if rechunk:
                    self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (OSError, http.client.HTTPException):
            complete = False
            self.close_connection = True
            self._close_upstream()
        finally:
            response.close()  # read to its end (or abandoned): the connection may take the next request
            if response.will_close or not complete:
                self._close_upstream()
        body, decoded = _decode(bytes(copy), response.msg.get("Content-Encoding"))
        observed = Observed(
            method=self.command,
            target=target,
            request_headers=request_headers,
            request_body=request_body,
            status=response.status,
            response_headers=response_headers,
            response_body=body,
            response_complete=complete and decoded,
        )
        return observed, sent, received

    def _plain_answer(self, status: int, text: str) -> None:
        body = text.encode("utf-8")
        with contextlib.suppress(OSError):
            self.send_response_only(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _proxy


class _UpstreamFailed(Exception):
    """The target did not answer; the client got a 502 from the recorder."""


class _ClientBodyError(Exception):
    """The client's request body ended before its declared length."""


def _decode(raw: bytes, encoding: str | None) -> tuple[bytes, bool]:
    """The recorded copy without content-encoding; (raw, False) if it cannot be decoded."""
    coding = (encoding or "").strip().lower()
    if coding in ("", "identity"):
        return raw, True
    try:
        if coding in ("gzip", "x-gzip"):
            return zlib.decompress(raw, 16 + zlib.MAX_WBITS), True
        if coding == "deflate":
            try:
                return zlib.decompress(raw), True
            except zlib.error:
                return zlib.decompress(raw, -zlib.MAX_WBITS), True
    except zlib.error:
        return raw, False
    return raw, False


def _shown_target(target: str, redactor: Redactor) -> str:
    """The request target for the log, with the values of secret-named query parameters masked."""
    path, _, query = target.partition("?")
    if not query:
        return redactor.text(path)
    shown = []
    for piece in query.split("&"):
        name, value = next(iter(parse_qsl(piece, keep_blank_values=True)), (piece, ""))
        if "=" in piece and value and is_sensitive_query_name(name):
            redactor.add_secret(value)
            shown.append(f"{quote(name)}={MASK}")
        else:
            shown.append(piece)
    return redactor.text(f"{path}?{'&'.join(shown)}")
