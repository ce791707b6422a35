"""One deadline per exchange: connect, request, status line, headers and body together.

httpx's timeouts bound each network operation on its own: a read timeout of 30 s is never reached
by a server that sends one byte of its headers or body every second, so an answer can take
forever. The deadline here bounds them all: every connect, read and write of an exchange gets at
most the time left until the exchange's deadline, and fails as that operation's timeout once it
has passed.

It works inside httpcore, as a network backend wrapped around the one a connection pool already
has (`bound_pools`), so it costs a clock read per network operation: no thread, no timer. The
deadline of the exchange in progress is a context variable (`with Deadline(at):`): each thread of
a concurrent step has its own. Outside an exchange with a deadline, operations keep their own
timeouts.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable
from contextvars import ContextVar, Token
from typing import Any

import httpcore

__all__ = ["Deadline", "DeadlineBackend", "bound_pools"]


class Deadline:
    """The moment (time.monotonic()) by which an exchange must be over; `cut` once it stopped one.

    `with Deadline(at):` puts it on every network operation of this thread inside the block.
    """

    __slots__ = ("_token", "at", "cut")

    def __init__(self, at: float) -> None:
        self.at = at
        self.cut = False
        self._token: Token[Deadline | None] | None = None

    def __enter__(self) -> Deadline:
        self._token = _CURRENT.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _CURRENT.reset(self._token)


_monotonic = time.monotonic  # read on every network operation
_CURRENT: ContextVar[Deadline | None] = ContextVar("scim_conformance_exchange_deadline", default=None)


def _run(operation: Any, timeout: float | None, expired: type[Exception], *args: Any) -> Any:
    """`operation(*args, timeout)` with at most the time the current deadline leaves it.

    Raises `expired` (an httpcore timeout) once the deadline has passed; `cut` says the deadline,
    not the operation's own timeout, ended it.
    """
    deadline = _CURRENT.get()
    if deadline is None:
        return operation(*args, timeout)
    left = deadline.at - _monotonic()
    if timeout is not None and timeout <= left:
        return operation(*args, timeout)  # its own timeout comes first
    if left <= 0:
        deadline.cut = True
        raise expired("the deadline of the exchange has passed")
    try:
        return operation(*args, left)
    except expired:
        deadline.cut = True
        raise


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the deadline of the exchange in progress."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return _run(self._stream.read, timeout, httpcore.ReadTimeout, max_bytes)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        _run(self._stream.write, timeout, httpcore.WriteTimeout, buffer)

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        tls = _run(lambda bounded: self._stream.start_tls(ssl_context, server_hostname, bounded),
                   timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """The network backend of a connection pool, with the exchange deadline on every operation."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        stream = _run(lambda bounded: self._backend.connect_tcp(host, port, bounded, local_address, socket_options),
                      timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(stream)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        stream = _run(lambda bounded: self._backend.connect_unix_socket(path, bounded, socket_options),
                      timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def bound_pools(transports: Iterable[object]) -> int:
    """Put the deadline on the connection pool of each httpx transport (direct or through a proxy).

    httpx builds its httpcore pools without a way to pass a network backend, so it is put on the
    pool it built. Returns how many pools now have it: 0 means this httpx keeps its pools
    elsewhere, and only the per-operation timeouts apply.
    """
    bounded = 0
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend):
            if not isinstance(backend, DeadlineBackend):
                pool._network_backend = DeadlineBackend(backend)  # type: ignore[union-attr]
            bounded += 1
    return bounded
