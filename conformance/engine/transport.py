"""HTTP to the target: URL joining under a base path, auth, timeouts, TLS, 429 retries, exchange log.

A hostile target must not hurt the run: every answer is read as a stream and reading stops at
`MAX_BODY_BYTES` (after decompression, so a gzip bomb is stopped too), and every exchange ends by
one deadline for connect, headers and body together (`conformance.engine.deadline`), so a server
that drips bytes cannot hold a step forever. A caller may set a time limit over several exchanges
(`Transport.time_limit`: a scenario's steps, its cleanup); exchanges past it are not sent. 429
answers are retried a bounded number of times, honouring `Retry-After` within a bound. Redirects
are never followed: the token must not travel to another host, and a redirect is an answer worth
seeing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import socket
import ssl
import time
from collections.abc import Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

from conformance.engine import jsondepth
from conformance.engine.deadline import Deadline
from conformance.engine.exchange import INVALID_TOKEN, NOT_JSON, Exchange, Received, Sent
from conformance.engine.http import target_client
from conformance.engine.profiles import TargetProfile
from conformance.engine.redact import redactor

__all__ = ["INVALID_TOKEN", "MAX_BODY_BYTES", "SILENT_AFTER", "Transport", "join_url"]

log = logging.getLogger("conformance.engine.transport")
MAX_429_RETRIES = 3
MAX_RETRY_AFTER_S = 10.0  # one wait, whatever Retry-After says
MAX_TOTAL_RETRY_WAIT_S = 20.0  # all the waits of one request together
MAX_BODY_BYTES = 10 * 1024 * 1024  # a SCIM answer is a few kB, a ListResponse page a few hundred kB
# Exchanges in a row that got no answer in time, none answered in between: the target accepts
# connections but does not answer, and the pytest plugin stops the run.
SILENT_AFTER = 3


def join_url(base_url: str, path: str, query: Mapping[str, Any] | None = None) -> str:
    """`base_url` + `path` + `query`, keeping the base path and any query the base URL carries.

    `http://h/scim/v2` + `/Users` is `http://h/scim/v2/Users`, never `http://h/Users`; a base URL
    like Entra's `https://h/scim?aadOptscim062020` keeps its flag on every request. Query values
    are percent-encoded with %20 for spaces, as Okta and Entra send them.
    """
    parts = urlsplit(base_url)
    base_path = parts.path.rstrip("/")
    rel, _, own_query = path.partition("?")
    rel = rel if rel.startswith("/") else f"/{rel}"
    pieces = [q for q in (parts.query, own_query) if q]
    if query:
        # A null value leaves the parameter out, as a null header leaves the header out.
        kept = {k: _query_value(v) for k, v in query.items() if v is not None}
        if kept:
            pieces.append(urlencode(kept, quote_via=quote, safe=""))
    url = f"{parts.scheme}://{parts.netloc}{base_path}{rel}"
    return f"{url}?{'&'.join(pieces)}" if pieces else url


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _charset(content_type: str) -> str | None:
    """The charset parameter of a Content-Type header, lower-cased, or None.

    What httpx's `Response.encoding` reads, without building an `email.message.Message` for
    every answer; a charset Python does not know falls back to UTF-8 in `_decode`.
    """
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower() or None
    return None


def _decode(raw: bytes, encoding: str | None) -> tuple[str, Any]:
    try:
        text = raw.decode(encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        return text, NOT_JSON
    try:
        return text, jsondepth.loads(text)
    except ValueError:  # not JSON, or nested deeper than any part of the harness should walk
        return text, NOT_JSON


class _BodyTooLarge(Exception):
    """The answer's body is larger than MAX_BODY_BYTES; reading it stopped there."""


class _AnswerTooSlow(Exception):
    """The answer's body was still not complete at the deadline for the whole answer."""


def _read_capped(response: httpx.Response, deadline: Deadline) -> bytes:
    """The body of a streamed response, never more than MAX_BODY_BYTES, never past `deadline`."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES and not response.headers.get("content-encoding"):
        raise _BodyTooLarge  # no need to read what we would throw away
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():  # as they come: a chunk size would wait to fill it
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise _BodyTooLarge
            chunks.append(chunk)
            if time.monotonic() > deadline.at:  # also where no connection pool carries the deadline
                raise _AnswerTooSlow
    except httpx.TimeoutException:
        if deadline.cut:
            raise _AnswerTooSlow from None
        raise
    return b"".join(chunks)


class Transport:
    """One httpx client for one target; every exchange is appended to `exchanges`."""

    def __init__(self, target: TargetProfile, token: str | None, *, user_agent: str | None = None) -> None:
        if not target.base_url:
            raise ValueError("target has no base URL")
        self.target = target
        self._token = token
        self.exchanges: list[Exchange] = []
        self._client = target_client(target, headers={"User-Agent": user_agent} if user_agent else None)
        # The whole exchange (connect, headers and body) must end within this; the read timeout
        # alone bounds only the wait for each chunk, which a server dripping bytes never exceeds.
        self.answer_deadline_s = target.exchange_deadline
        # Set when a request could not reach the target at all (name does not resolve, connection
        # refused, certificate rejected): every later request will fail the same way. Cleared by
        # any answer. The pytest plugin may stop the run early on it.
        self.down_reason: str | None = None
        # Set when SILENT_AFTER exchanges in a row got no answer in time; cleared by any answer.
        # The pytest plugin stops the run on it too.
        self.silent_reason: str | None = None
        self._unanswered = 0
        self._limit: tuple[float, str] | None = None  # (time.monotonic() it ends, what it is)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def time_limit(self, seconds: float, what: str) -> Iterator[None]:
        """Every exchange inside the block ends within `seconds` from now; one due later is not sent.

        `what` names the limit in the error of an exchange it cut short or stopped ("the scenario's
        time limit of 300 s (...)"). An exchange still gets at most its own deadline.
        """
        previous = self._limit
        self._limit = (time.monotonic() + seconds, what)
        try:
            yield
        finally:
            self._limit = previous

    def _auth_header(self, mode: str) -> str | None:
        if mode == "none" or (self.target.auth_type == "none" and mode == "default"):
            return None
        if mode == "invalid":
            return f"Bearer {INVALID_TOKEN}"
        return f"Bearer {self._token}" if self._token else None

    def send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        headers: Mapping[str, str | None] | None = None,
        body: Any = None,
        has_body: bool = False,
        auth: str = "default",
        retry_429: bool = True,
    ) -> Exchange:
        """Send one request; transport failures come back as an Exchange with `error` set.

        `retry_429=False` for requests of our own (not a scenario's): they take what they get.
        """
        url = join_url(self.target.base_url or "", path, query)
        merged: dict[str, str] = {}
        authorization = self._auth_header(auth)
        if authorization:
            merged["Authorization"] = authorization
        for name, value in (headers or {}).items():
            # A None value removes a header (e.g. OneLogin sends no User-Agent at all).
            for existing in [k for k in merged if k.lower() == name.lower()]:
                del merged[existing]
            if value is not None:
                merged[name] = value
        # httpx adds its own defaults (User-Agent, Accept, ...) to every request: a header the
        # scenario removed must be taken off the built request, not just left out.
        removed = [name for name, value in (headers or {}).items() if value is None]
        content = json.dumps(body, ensure_ascii=False).encode("utf-8") if has_body else None
        sent = Sent(method, url, tuple(merged.items()), content)
        waited = 0.0
        retries = MAX_429_RETRIES if retry_429 else 0
        for attempt in range(retries + 1):
            started = time.perf_counter()
            now = time.monotonic()
            at, limit = now + self.answer_deadline_s, self._limit
            if limit is not None:
                if limit[0] <= now:
                    return self._log(Exchange(sent, None, f"not sent: {limit[1]} ran out"))
                at = min(at, limit[0])
            by_limit = limit is not None and at == limit[0]  # the caller's limit ends it, not its own deadline
            wait: float | None = None
            try:
                with Deadline(at) as deadline:
                    request = self._client.build_request(method, url, headers=merged, content=content)
                    for name in removed:
                        request.headers.pop(name, None)
                    with contextlib.closing(self._exchange(request)) as response:
                        budget = min(MAX_TOTAL_RETRY_WAIT_S - waited, at - time.monotonic() if by_limit else math.inf)
                        if response.status_code == 429 and attempt < retries and budget > 0:
                            wait = min(_retry_after(response.headers.get("retry-after"), attempt), budget)
                        else:
                            raw = _read_capped(response, deadline)
            except _BodyTooLarge:
                self._answered()
                return self._log(Exchange(sent, None, _too_large(response)))
            except _AnswerTooSlow:
                error = (f"timed out: the answer (status {response.status_code}) was still not complete after "
                         f"{time.perf_counter() - started:.1f}s")
                if by_limit:
                    return self._timed_out(sent, limit, error)
                return self._timed_out(sent, None, f"{error}; {self._slow_hint()}")
            except httpx.TimeoutException as exc:
                elapsed = time.perf_counter() - started
                if by_limit and deadline.cut:
                    return self._timed_out(sent, limit, f"timed out after {elapsed:.1f}s")
                if isinstance(exc, httpx.ConnectTimeout):
                    self.down_reason = f"connect timed out after {elapsed:.1f}s"
                if deadline.cut:  # the status line and headers came too slowly, or not at all
                    return self._timed_out(sent, None, (
                        f"timed out: the status line and headers of the answer were still not complete after "
                        f"{elapsed:.1f}s; {self._slow_hint()}"))
                return self._timed_out(sent, None, f"timed out ({type(exc).__name__}) after {elapsed:.1f}s; "
                                                   f"{_HINTS['timeout']}")
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
                kind = _failure_kind(exc)
                if kind is not None:
                    self.down_reason = reason
                else:
                    self._answered()  # it took the request and said something, if only by closing
                return self._log(Exchange(sent, None, f"{reason} ({_HINTS[kind]})" if kind else reason))
            if wait is not None:
                # Okta and Entra back off on 429; so do we, within a bound (the answer is closed).
                log.info("%s %s -> 429; retry %d in %.1fs", method, redactor.text(url), attempt + 1, wait)
                waited += wait
                time.sleep(wait)
                continue
            self.down_reason = None
            self._answered()
            elapsed = (time.perf_counter() - started) * 1000
            text, parsed = _decode(raw, _charset(response.headers.get("content-type", "")))
            received = Received(
                response.status_code, response.reason_phrase, tuple(response.headers.items()),
                text, parsed, elapsed,
            )
            return self._log(Exchange(sent, received))
        raise AssertionError("unreachable")

    def _answered(self) -> None:
        self._unanswered = 0
        self.silent_reason = None

    def _timed_out(self, sent: Sent, limit: tuple[float, str] | None, error: str) -> Exchange:
        """An exchange that got no answer in time; `limit` when the caller's time limit cut it short.

        Cut short by a limit of ours, it says nothing of the target. Otherwise it counts towards
        SILENT_AFTER.
        """
        if limit is not None:
            return self._log(Exchange(sent, None, f"{error}: {limit[1]} ran out"))
        self._unanswered += 1
        if self._unanswered >= SILENT_AFTER:
            self.silent_reason = f"{self._unanswered} requests in a row got no answer in time; the last: {error}"
        return self._log(Exchange(sent, None, error))

    def _slow_hint(self) -> str:
        return (f"the server sends its answer too slowly (one exchange may take {self.answer_deadline_s:g} s: "
                "timeouts.exchange in the target profile, by default timeouts.connect + 2 x timeouts.read)")

    def _exchange(self, request: httpx.Request) -> httpx.Response:
        """The answer to `request`, streamed, from the connection pool for its URL (proxies included).

        Straight to the pool, past what `Client.send` adds around it: no auth flow, no redirect
        handling (never followed), and no cookie jar. An IdP sends its configured credentials and
        nothing else: a cookie set by the server must not stand in for the token on a later
        request. (The cookie jar was also a tenth of the harness's own time per request.)
        """
        pool_for = getattr(self._client, "_transport_for_url", None)
        if pool_for is None:  # an httpx without it: the plain way, cookies dropped afterwards
            response = self._client.send(request, stream=True)
            self._client.cookies.clear()
            return response
        response = pool_for(request.url).handle_request(request)
        response.request = request
        return response

    def _log(self, exchange: Exchange) -> Exchange:
        self.exchanges.append(exchange)
        received = exchange.received
        outcome = exchange.error or (f"{received.status} in {received.elapsed_ms:.0f} ms" if received else "")
        log.info("%s %s -> %s", exchange.sent.method, redactor.text(exchange.sent.url), redactor.text(outcome))
        return exchange


_HINTS = {
    "timeout": "raise timeouts.read in the target profile if the server is just slow (Okta waits 60 s)",
    "tls": "the certificate did not verify: set tls.ca_bundle in the target profile for a private CA "
           "(tls.verify: false, or --insecure, turns verification off)",
    "dns": "the host name of the base URL does not resolve: check it for typos, and check DNS or VPN",
    "connect": "is the server running, and are the host, port and scheme of the base URL right?",
}


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and the exceptions it was raised from, at most 10 deep."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _failure_kind(exc: httpx.HTTPError) -> str | None:
    """'dns', 'tls' or 'connect' when the request never reached the server; None otherwise."""
    chain = _causes(exc)
    if any(isinstance(e, ssl.SSLError) for e in chain) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return "tls"
    if any(isinstance(e, socket.gaierror) for e in chain):
        return "dns"
    if isinstance(exc, httpx.ConnectError):
        return "connect"
    return None


def _too_large(response: httpx.Response) -> str:
    kind = response.headers.get("content-type") or "no Content-Type"
    return (f"response body larger than {MAX_BODY_BYTES // (1024 * 1024)} MB (status {response.status_code}, "
            f"{kind}); stopped reading it: a SCIM answer is never that large")


def _retry_after(value: str | None, attempt: int) -> float:
    """Seconds to wait before retrying a 429: Retry-After (seconds or an HTTP date), bounded."""
    backoff = 0.5 * 2**attempt
    seconds = backoff
    if value:
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError, IndexError, OverflowError):
                seconds = backoff
    if not math.isfinite(seconds):
        seconds = MAX_RETRY_AFTER_S
    return max(0.0, min(seconds, MAX_RETRY_AFTER_S))
