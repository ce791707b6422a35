"""HTTP to the target: URL joining under a base path, auth, timeouts, TLS, 429 retries, exchange log."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

from conformance.exchange import NOT_JSON, Exchange, Received, Sent
from conformance.profiles import TargetProfile

__all__ = ["INVALID_TOKEN", "Transport", "join_url"]

log = logging.getLogger("conformance.transport")
INVALID_TOKEN = "scim-conformance-invalid-token"
MAX_429_RETRIES = 3
MAX_RETRY_AFTER_S = 10.0


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


def _decode(response: httpx.Response) -> tuple[str, Any]:
    text = response.text
    if not text.strip():
        return text, NOT_JSON
    try:
        return text, json.loads(text)
    except ValueError:
        return text, NOT_JSON


class Transport:
    """One httpx client for one target; every exchange is appended to `exchanges`."""

    def __init__(self, target: TargetProfile, token: str | None, *, user_agent: str | None = None) -> None:
        if not target.base_url:
            raise ValueError("target has no base URL")
        self.target = target
        self._token = token
        self.exchanges: list[Exchange] = []
        self._client = httpx.Client(
            verify=target.verify_tls,
            timeout=httpx.Timeout(target.read_timeout, connect=target.connect_timeout),
            follow_redirects=False,  # a redirect is an answer worth seeing, not following
            headers={"User-Agent": user_agent} if user_agent else None,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
    ) -> Exchange:
        """Send one request; transport failures come back as an Exchange with `error` set."""
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
        content = json.dumps(body, ensure_ascii=False).encode("utf-8") if has_body else None
        sent = Sent(method, url, tuple(merged.items()), content)
        for attempt in range(MAX_429_RETRIES + 1):
            started = time.perf_counter()
            try:
                response = self._client.request(method, url, headers=merged, content=content)
            except httpx.TimeoutException as exc:
                return self._log(Exchange(sent, None, f"timed out ({type(exc).__name__}) after "
                                          f"{time.perf_counter() - started:.1f}s; {_HINTS['timeout']}"))
            except httpx.HTTPError as exc:
                return self._log(Exchange(sent, None, f"{type(exc).__name__}: {exc}{_hint(exc)}"))
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code == 429 and attempt < MAX_429_RETRIES:
                # Okta and Entra back off on 429; so do we, within a bound.
                time.sleep(_retry_after(response.headers.get("retry-after"), attempt))
                continue
            text, parsed = _decode(response)
            received = Received(
                response.status_code, response.reason_phrase, tuple(response.headers.items()),
                text, parsed, elapsed,
            )
            return self._log(Exchange(sent, received))
        raise AssertionError("unreachable")

    def _log(self, exchange: Exchange) -> Exchange:
        self.exchanges.append(exchange)
        received = exchange.received
        outcome = exchange.error or (f"{received.status} in {received.elapsed_ms:.0f} ms" if received else "")
        log.info("%s %s -> %s", exchange.sent.method, exchange.sent.url, outcome)
        return exchange


_HINTS = {
    "timeout": "raise timeouts.read in the target profile if the server is just slow (Okta waits 60 s)",
    "tls": "the certificate did not verify: set tls.ca_bundle in the target profile for a private CA "
           "(tls.verify: false turns verification off)",
    "connect": "is the server running, and are the host, port and scheme of the base URL right?",
}


def _hint(exc: httpx.HTTPError) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
        return f" ({_HINTS['tls']})"
    if isinstance(exc, httpx.ConnectError):
        return f" ({_HINTS['connect']})"
    return ""


def _retry_after(value: str | None, attempt: int) -> float:
    try:
        seconds = float(value) if value else 0.5 * 2**attempt
    except ValueError:
        seconds = 0.5 * 2**attempt
    return max(0.0, min(seconds, MAX_RETRY_AFTER_S))
