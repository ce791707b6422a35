"""A reverse proxy that makes a *real* SCIM server deviate on purpose, for the fault tests.

Put it in front of a conforming server (the embedded scim2-server) and give it `Deviation`s: each
one rewrites the request on its way in (or answers in the server's place) and/or rewrites the
response on its way out, to reproduce one way real SCIM servers get the protocol wrong. A fault
test then checks that the conformance run reports exactly that deviation.

    with DeviatingProxy(server.base_url, [CATALOGUE["create-returns-200"]]) as proxy:
        run_conformance(base_url=proxy.url)   # proxy.url keeps the upstream's base path (/v2)

Conventions:

* header names in `ProxyRequest.headers` / `ProxyResponse.headers` are lower-case;
* `ProxyRequest.path` is the path plus query string as received, e.g. ``/v2/Users?filter=...``;
* request rewrites run in the order of the deviations; the first one that returns a
  `ProxyResponse` answers in the server's place (the upstream is not called, the remaining request
  rewrites are skipped);
* response rewrites then run, in the same order, on whatever response there is (upstream or
  short-circuit); each receives the request *as the client sent it*;
* the upstream's own ``Location`` and ``meta.location`` (its host:port) are passed through as is;
* `ProxyRequest.origin` is the upstream's ``scheme://host:port``: a deviation that needs the
  server's state (read-modify-write, existence checks) calls it directly with the request's
  own Authorization header.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

__all__ = [
    "CATALOGUE",
    "DeviatingProxy",
    "Deviation",
    "ProxyRequest",
    "ProxyResponse",
    "call_upstream",
    "is_request",
    "patch_operations",
    "scim_error",
]

SCIM_JSON = "application/scim+json"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

# RFC 9110 §7.6.1 hop-by-hop headers, plus the ones the proxy recomputes itself.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_RECOMPUTED = frozenset({"host", "content-length"})
_UPSTREAM_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
_SHUTDOWN_TIMEOUT = 5.0


@dataclass
class ProxyRequest:
    """A request as the proxy sees it. Header names are lower-case."""

    method: str
    path: str  # path + query as received, e.g. "/v2/Users?filter=..."
    headers: dict[str, str]
    body: bytes
    origin: str = ""  # the upstream's scheme://host:port, for deviations that must read state first

    @property
    def route(self) -> str:
        """The path without the query string, e.g. ``/v2/Users``."""
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, list[str]]:
        """The decoded query string parameters."""
        return parse_qs(urlsplit(self.path).query, keep_blank_values=True)

    def json(self) -> Any | None:
        """The body parsed as JSON, or None if it is empty or not JSON."""
        return _parse_json(self.body)

    def with_json(self, obj: Any) -> ProxyRequest:
        """A copy whose body is `obj` serialised (Content-Length fixed by the proxy)."""
        return dataclasses.replace(
            self, headers=dict(self.headers), body=json.dumps(obj).encode("utf-8")
        )


@dataclass
class ProxyResponse:
    """A response as the proxy will send it. Header names are lower-case."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any | None:
        """The body parsed as JSON, or None if it is empty or not JSON."""
        return _parse_json(self.body)

    def with_json(self, obj: Any, *, content_type: str | None = None) -> ProxyResponse:
        """A copy whose body is `obj` serialised, with Content-Length (and Content-Type) set."""
        body = json.dumps(obj).encode("utf-8")
        headers = dict(self.headers)
        headers["content-length"] = str(len(body))
        if content_type is not None or "content-type" not in headers:
            headers["content-type"] = content_type or SCIM_JSON
        return dataclasses.replace(self, headers=headers, body=body)

    def with_body(self, body: bytes, content_type: str) -> ProxyResponse:
        """A copy with a raw body and the given Content-Type."""
        headers = dict(self.headers)
        headers["content-length"] = str(len(body))
        headers["content-type"] = content_type
        return dataclasses.replace(self, headers=headers, body=body)


@dataclass(frozen=True)
class Deviation:
    """One way a SCIM server gets the protocol wrong, reproduced on top of a conforming one."""

    name: str  # e.g. "create-returns-200"
    description: str  # what the target does wrong, one line
    source: str  # the RFC clause or IdP behaviour it breaks, e.g. "RFC 7644 §3.3"
    rewrite_request: Callable[[ProxyRequest], ProxyRequest | ProxyResponse] | None = None
    rewrite_response: Callable[[ProxyRequest, ProxyResponse], ProxyResponse] | None = None


def _parse_json(body: bytes) -> Any | None:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def scim_error(status: int, detail: str, scim_type: str | None = None) -> ProxyResponse:
    """A SCIM Error response (RFC 7644 §3.12)."""
    error: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        error["scimType"] = scim_type
    return ProxyResponse(status=status).with_json(error, content_type=SCIM_JSON)


def _empty_list() -> dict[str, Any]:
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


# --------------------------------------------------------------------------- the proxy


class DeviatingProxy:
    """A reverse proxy on 127.0.0.1 in front of `upstream`, applying `deviations` in order.

    Use it as a context manager; `url` is only available once it is started.
    """

    def __init__(self, upstream: str, deviations: Sequence[Deviation] = ()) -> None:
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"upstream must be an http(s) URL, got {upstream!r}")
        self.upstream = upstream.rstrip("/")
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._base_path = parts.path.rstrip("/")
        self.deviations: tuple[Deviation, ...] = tuple(deviations)
        self.requests_seen: list[ProxyRequest] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` + the upstream's base path: a drop-in for the upstream URL."""
        if self._url is None:
            raise RuntimeError("DeviatingProxy is not started: use it as a context manager")
        return self._url

    # -- lifecycle

    def start(self) -> DeviatingProxy:
        if self._server is not None:
            return self
        self._client = httpx.Client(
            trust_env=False, timeout=_UPSTREAM_TIMEOUT, follow_redirects=False
        )
        server = _Server(("127.0.0.1", 0), _Handler)
        server.proxy = self
        self._server = server
        port = server.server_address[1]
        self._url = f"http://127.0.0.1:{port}{self._base_path}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"deviating-proxy-{port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread, client = self._server, self._thread, self._client
        self._server = self._thread = self._client = None
        if server is not None:
            # shutdown() blocks until serve_forever returns: run it aside and bound the wait.
            stopper = threading.Thread(target=server.shutdown, daemon=True)
            stopper.start()
            stopper.join(_SHUTDOWN_TIMEOUT)
            server.server_close()
        if thread is not None:
            thread.join(_SHUTDOWN_TIMEOUT)
        if client is not None:
            client.close()

    def __enter__(self) -> DeviatingProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- one exchange

    def handle(self, request: ProxyRequest) -> ProxyResponse:
        """Apply the deviations to `request`, forward it if none answered, rewrite the answer."""
        request = dataclasses.replace(request, origin=self._origin)
        self.requests_seen.append(request)
        original = _copy_request(request)
        current: ProxyRequest | ProxyResponse = _copy_request(request)
        for deviation in self.deviations:
            if deviation.rewrite_request is None:
                continue
            current = deviation.rewrite_request(current)
            if isinstance(current, ProxyResponse):
                break
        response = current if isinstance(current, ProxyResponse) else self._forward(current)
        for deviation in self.deviations:
            if deviation.rewrite_response is not None:
                response = deviation.rewrite_response(_copy_request(original), response)
        return response

    def _forward(self, request: ProxyRequest) -> ProxyResponse:
        assert self._client is not None
        headers = {
            name: value
            for name, value in request.headers.items()
            if name not in _HOP_BY_HOP and name not in _RECOMPUTED
        }
        # Ask for an identity body: httpx would decode a compressed one anyway, and the proxy
        # has to be able to read and rewrite it.
        headers["accept-encoding"] = "identity"
        try:
            upstream = self._client.request(
                request.method,
                self._origin + request.path,
                headers=headers,
                content=request.body if request.body else None,
            )
        except httpx.HTTPError as exc:
            return ProxyResponse(status=502).with_body(
                f"deviating proxy: upstream {self._origin} failed: {type(exc).__name__}".encode(),
                "text/plain; charset=utf-8",
            )
        response_headers: dict[str, str] = {}
        for name, value in upstream.headers.multi_items():  # names come lower-cased
            if name in _HOP_BY_HOP or name == "content-encoding":  # body is decoded
                continue
            if name in response_headers:
                response_headers[name] += ", " + value
            else:
                response_headers[name] = value
        body = upstream.content
        if "content-length" in response_headers or body:
            response_headers["content-length"] = str(len(body))
        return ProxyResponse(status=upstream.status_code, headers=response_headers, body=body)


def _copy_request(request: ProxyRequest) -> ProxyRequest:
    return dataclasses.replace(request, headers=dict(request.headers))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: DeviatingProxy


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections are dropped after this many seconds
    # The head and the body go out in two sends; with Nagle's algorithm on, the body waited for
    # the client's delayed ACK (about 40 ms) on every answer of a kept-alive connection.
    disable_nagle_algorithm = True

    def _proxy(self) -> None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = self._read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        request = ProxyRequest(method=self.command, path=self.path, headers=headers, body=body)
        try:
            response = self.server.proxy.handle(request)
        except Exception as exc:  # a broken deviation must show, not hang the client
            response = ProxyResponse(status=500).with_body(
                f"deviating proxy: {type(exc).__name__}: {exc}".encode(),
                "text/plain; charset=utf-8",
            )
        self._send(response)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk

    def _send(self, response: ProxyResponse) -> None:
        no_body = self.command == "HEAD" or response.status in (204, 304) or response.status < 200
        self.send_response_only(response.status)
        for name, value in response.headers.items():
            if name in _HOP_BY_HOP or name == "content-length":
                continue
            self.send_header(name, value)
        if response.status not in (204, 304) and response.status >= 200:
            self.send_header("Content-Length", str(len(response.body)))
        elif "content-length" in response.headers:
            # Pass the upstream's own (even if superfluous) Content-Length through as is.
            self.send_header("Content-Length", response.headers["content-length"])
        self.end_headers()
        if not no_body and response.body:
            self.wfile.write(response.body)
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _proxy

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read requests_seen
        pass


# --------------------------------------------------------------------------- helpers for deviations


def is_request(request: ProxyRequest, method: str, collection: str, *, item: bool | None = None) -> bool:
    """Is `request` a `method` on `/collection` (item=False), `/collection/{id}` (True), or either."""
    if request.method != method:
        return False
    parts = request.route.rstrip("/").split("/")
    if item is None:
        return collection in parts[-2:]
    return (parts[-2] == collection) if item else (parts[-1] == collection)


def call_upstream(request: ProxyRequest, method: str, path: str, body: Any = None) -> httpx.Response:
    """Call the real server directly, with the client's own credentials."""
    headers = {"authorization": request.headers.get("authorization", ""), "content-type": "application/scim+json"}
    return httpx.request(method, request.origin + path, headers=headers, json=body, timeout=10)


def patch_operations(request: ProxyRequest) -> list[dict[str, Any]]:
    """The PatchOp operations of a request body (objects only; [] when there are none)."""
    body = request.json()
    operations = body.get("Operations") if isinstance(body, dict) else None
    return [op for op in operations if isinstance(op, dict)] if isinstance(operations, list) else []


# --------------------------------------------------------------------------- the catalogue


def _is_create_users(request: ProxyRequest) -> bool:
    return request.method == "POST" and request.route.rstrip("/").endswith("/Users")


def _is_list(request: ProxyRequest, endpoint: str) -> bool:
    return request.method == "GET" and request.route.rstrip("/").endswith("/" + endpoint)


def _create_returns_200(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    if _is_create_users(request) and response.status == 201:
        return dataclasses.replace(response, status=200)
    return response


def _create_drops_location(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    if request.method == "POST" and response.status == 201:
        headers = {k: v for k, v in response.headers.items() if k != "location"}
        return dataclasses.replace(response, headers=headers)
    return response


_USERNAME_EQ = re.compile(r'\buserName\s+eq\s+"((?:[^"\\]|\\.)*)"', re.IGNORECASE)


def _filter_case_sensitive_username(
    request: ProxyRequest, response: ProxyResponse
) -> ProxyResponse:
    if not (_is_list(request, "Users") and response.status == 200):
        return response
    for expression in request.query.get("filter", []):
        for match in _USERNAME_EQ.finditer(expression):
            value = match.group(1)
            if value != value.lower():
                return response.with_json(_empty_list())
    return response


def _empty_filter_404(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    if not (_is_list(request, "Users") and request.query.get("filter")):
        return response
    listing = response.json()
    if response.status == 200 and isinstance(listing, dict) and listing.get("totalResults") == 0:
        return scim_error(404, "No user matches the filter")
    return response


def _patch_capitalised_op_rejected(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    if request.method != "PATCH":
        return request
    body = request.json()
    operations = body.get("Operations") if isinstance(body, dict) else None
    for operation in operations if isinstance(operations, list) else []:
        op = operation.get("op") if isinstance(operation, dict) else None
        if isinstance(op, str) and op != op.lower():
            return scim_error(400, f"Unsupported operation {op!r}", "invalidSyntax")
    return request


_ACTIVE_PATH = re.compile(r"^(?:urn:ietf:params:scim:schemas:core:2\.0:User:)?active$", re.I)
_ACTIVE_URN = "urn:ietf:params:scim:schemas:core:2.0:User"


def _is_false(value: Any) -> bool:
    """Entra sends ``"False"`` (a string) where Okta sends ``false``."""
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def _drop_false_active(value: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in value.items() if not (k.lower() == "active" and _is_false(v))}
    core = kept.get(_ACTIVE_URN)
    if isinstance(core, dict):
        kept[_ACTIVE_URN] = _drop_false_active(core)
    return kept


def _deactivate_ignored(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    """Remove "active: false" from PATCH/PUT bodies, so that the server never deactivates.

    PATCH: ops setting active to false are dropped (a path-less op loses its active key). If no op
    is left we send ``replace active true`` instead, since scim2-server rejects an empty
    ``Operations`` (400 invalidValue); the user was active, so that changes nothing.
    PUT: ``active`` is set to true rather than dropped, since on PUT scim2-server clears an
    omitted attribute (``active`` would vanish instead of staying true).
    """
    if request.method not in ("PATCH", "PUT"):
        return request
    body = request.json()
    if not isinstance(body, dict):
        return request
    if request.method == "PUT":
        changed = False
        for holder in (body, body.get(_ACTIVE_URN)):
            if isinstance(holder, dict):
                for key in list(holder):
                    if key.lower() == "active" and _is_false(holder[key]):
                        holder[key] = True
                        changed = True
        return request.with_json(body) if changed else request
    operations = body.get("Operations")
    if not isinstance(operations, list):
        return request
    kept: list[Any] = []
    for operation in operations:
        if not isinstance(operation, dict) or str(operation.get("op", "")).lower() == "remove":
            kept.append(operation)
            continue
        path, value = operation.get("path"), operation.get("value")
        if isinstance(path, str) and _ACTIVE_PATH.match(path.strip()):
            if _is_false(value):
                continue
        elif path is None and isinstance(value, dict):
            trimmed = _drop_false_active(value)
            if trimmed != value:
                if not trimmed or trimmed == {_ACTIVE_URN: {}}:
                    continue
                operation = {**operation, "value": trimmed}
        kept.append(operation)
    if kept == operations:
        return request
    if not kept:
        kept = [{"op": "replace", "path": "active", "value": True}]
    return request.with_json({**body, "Operations": kept})


def _list_html(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    if _is_list(request, "Groups"):
        return ProxyResponse(status=200).with_body(
            b"<html><body>Not found</body></html>", "text/html"
        )
    return request


def _error_not_scim(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    if 400 <= response.status < 500:
        return response.with_body(b'{"error":"bad"}', "application/json")
    return response


CATALOGUE: dict[str, Deviation] = {
    d.name: d
    for d in (
        Deviation(
            name="create-returns-200",
            description="POST /Users that creates a user answers 200 OK instead of 201 Created",
            source="RFC 7644 §3.3 (a successful create SHALL answer 201 Created)",
            rewrite_response=_create_returns_200,
        ),
        Deviation(
            name="create-drops-location",
            description="a 201 Created answer carries no Location header",
            source="RFC 7644 §3.3 (the response SHALL include a Location header with the "
            "resource's URI, same as meta.location)",
            rewrite_response=_create_drops_location,
        ),
        Deviation(
            name="filter-case-sensitive-username",
            description='filter userName eq "Value" matches case-sensitively: a value with '
            "capitals finds nobody",
            source="RFC 7643 §4.1.1 (userName caseExact false) and RFC 7644 §3.4.2.2; "
            "Okta SCIM 2.0 spec test (lookup with a differently-cased userName)",
            rewrite_response=_filter_case_sensitive_username,
        ),
        Deviation(
            name="empty-filter-404",
            description="a filtered GET /Users with no match answers 404 instead of 200 with an "
            "empty ListResponse",
            source="RFC 7644 §3.4.2 (a query with no match SHALL answer 200, totalResults 0); "
            "MS-TUT: Entra's Test Connection filters on a random userName and needs 200 + "
            "an empty ListResponse",
            rewrite_response=_empty_filter_404,
        ),
        Deviation(
            name="patch-capitalised-op-rejected",
            description='PATCH with a capitalised op ("Replace", "Add") is rejected with 400 '
            "invalidSyntax",
            source="Microsoft Entra ID sends PATCH op values capitalised (\"Add\"/\"Replace\") "
            "unless the tenant URL carries aadOptscim062020 (entra-capitalised-ops; Microsoft Learn 'Known "
            "issues ... SCIM 2.0 protocol compliance'); RFC 7644 §3.5.2 lists the ops",
            rewrite_request=_patch_capitalised_op_rejected,
        ),
        Deviation(
            name="deactivate-ignored",
            description="PATCH/PUT setting active false answers success but the user stays "
            "active (silent no-op)",
            source="RFC 7644 §3.5.1/§3.5.2 (the change SHALL be applied); Okta and Entra "
            "deprovision by setting active false (keystone#25 silent no-op)",
            rewrite_request=_deactivate_ignored,
        ),
        Deviation(
            name="list-html",
            description="GET /Groups answers 200 with an HTML page instead of a SCIM "
            "ListResponse (no /Groups endpoint)",
            source="RFC 7644 §3.4.2 (a query answers a ListResponse) and §8.1 "
            "(application/scim+json)",
            rewrite_request=_list_html,
        ),
        Deviation(
            name="error-not-scim",
            description='every 4xx answer has the body {"error":"bad"} (application/json) '
            "instead of a SCIM Error",
            source="RFC 7644 §3.12 (errors are returned as SCIM Error messages with the "
            "urn:ietf:params:scim:api:messages:2.0:Error schema)",
            rewrite_response=_error_not_scim,
        ),
    )
}
