"""The load replay's HTTP client: one keep-alive `http.client` connection per thread, counting only.

The load does not use the harness's Transport (one httpx client that keeps every exchange for the
report). Measured on 2 cores, a bare httpx request loop reaches 1,800 to 2,200 requests/s against a
trivial loopback endpoint, which rendering the IdP's templates would push below the 2,000/s the
load command must sustain; http.client reaches 3,900 to 5,500/s (docs/performance.md).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from conformance.engine import jsondepth
from conformance.engine.errors import HarnessError
from conformance.engine.http import tls_context
from conformance.engine.profiles import TargetProfile
from conformance.engine.transport import MAX_BODY_BYTES

__all__ = ["Answer", "LeanClient", "LoadTransportError"]


class LoadTransportError(Exception):
    """No usable answer: refused, reset, timed out, TLS, or a body over the size cap."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class Answer:
    """A server's answer: its status, its body, and milliseconds from sending to the body's end."""

    status: int
    body: bytes
    elapsed_ms: float

    def json(self) -> Any:
        """The body as JSON; None when empty or not JSON."""
        try:
            return jsondepth.loads(self.body) if self.body else None
        except ValueError:  # not JSON, or nested too deep to walk
            return None


class LeanClient:
    """One keep-alive HTTP/1.1 connection per thread to one target; redirects are not followed.

    Connect and read timeouts, TLS verification (on, off, or a CA bundle) come from the target
    profile; an answer larger than the harness's cap (10 MB) is not read. A connection the
    server closed while idle is reopened once.
    """

    def __init__(self, target: TargetProfile) -> None:
        if not target.base_url:
            raise HarnessError("the target has no base URL")
        parts = urlsplit(target.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HarnessError(f"{target.base_url}: not an http(s) URL")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.scheme = parts.scheme
        self.connect_timeout = target.connect_timeout
        self.read_timeout = target.read_timeout
        self._context: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self._context = tls_context(target.base_url, target.verify_tls)  # as the run verifies
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._context is not None:
                conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.connect_timeout,
                                                   context=self._context)
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout)
            self._local.conn = conn
            self._local.used = False
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def close(self) -> None:
        """Close this thread's connection (each thread closes its own)."""
        self._drop()

    def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Answer:
        """One request on this thread's connection; raises LoadTransportError when no answer came."""
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        for attempt in (1, 2):
            conn = self._connection()
            reused = self._local.used
            started = time.perf_counter()
            try:
                if conn.sock is None:
                    conn.connect()
                    conn.sock.settimeout(self.read_timeout)
                    # http.client writes the head and the body in two sends: without this, Nagle's
                    # algorithm holds the body until the server's delayed ACK of the head.
                    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn.request(method, target, body=body, headers=dict(headers))
                response = conn.getresponse()
                data = response.read(MAX_BODY_BYTES + 1)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self._drop()
                if reused and attempt == 1:
                    continue  # the server closed an idle keep-alive connection: once more, fresh
                raise LoadTransportError(type(exc).__name__) from None
            except TimeoutError:
                self._drop()
                raise LoadTransportError("timeout") from None
            except ssl.SSLError:
                self._drop()
                raise LoadTransportError("tls") from None
            except socket.gaierror:
                self._drop()
                raise LoadTransportError("dns") from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                raise LoadTransportError(type(exc).__name__) from None
            elapsed = (time.perf_counter() - started) * 1000
            if len(data) > MAX_BODY_BYTES:
                self._drop()
                raise LoadTransportError("body over 10 MB")
            if response.will_close:
                self._drop()  # HTTP/1.0 servers (wsgiref) close after every answer
            else:
                self._local.used = True
            return Answer(response.status, data, elapsed)
        raise AssertionError("unreachable")

