"""`scim-conformance load`: an IdP's initial provisioning cycle, replayed at scale.

The cycle is the one an IdP runs when an app is first assigned (Entra calls it the initial
cycle), sent the way the IdP profile says (`profiles/idp/<id>.yaml`, the same templates the
scenarios use):

1. users: for every user, a lookup by userName (`lookup_user`), then the create (`create_user`);
2. groups: for every group, a lookup (`lookup_group`) and the create (`create_group`);
3. members: each group gets `--members` of the created users, added in PATCHes of `--batch`
   (`add_members`);
4. updates: the incremental cycle that follows: one profile change per created user
   (`update_user`, or `replace_attribute` of displayName).

Requests go out from `--concurrency` threads and stop being sent after `--duration` seconds.
Then everything the run created is removed (groups, then users; users are deactivated instead
when the target profile says it cannot delete them), and nothing else: only ids the server
returned to this run's own creates are touched. Generated names start with
`scimc-<run id>-`, so `scim-conformance cleanup --run-id` finds what a killed load left.

The load client does not use the harness's Transport (one httpx client that keeps every
exchange for the report): it keeps one `http.client` connection per thread and only counts.
Measured on 2 cores, a bare httpx request loop reaches 1,800 to 2,200 requests/s against a
trivial loopback endpoint, which rendering the IdP's templates would push below the 2,000/s this
command must sustain; http.client reaches 3,900 to 5,500/s (docs/performance.md).

`CycleTemplates` renders the requests and is shared with the Locust file
(`conformance/locustfile.py`), which runs the same cycle on Locust's distributed engine.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import itertools
import json
import os
import re
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import uuid
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance import __version__
from conformance.engine.errors import HarnessError, ScenarioFileError
from conformance.engine.fakedata import RunData, new_run_id
from conformance.engine.profiles import IdpProfile, TargetProfile, load_idp_profiles, resolve_target, with_base_url
from conformance.engine.redact import redactor
from conformance.engine.templating import TemplateError, render
from conformance.engine.transport import MAX_BODY_BYTES, join_url

__all__ = [
    "CycleTemplates",
    "LeanClient",
    "LoadOptions",
    "LoadTransportError",
    "add_parser",
    "percentile",
    "run_load",
]

PHASES = ("users", "groups", "members", "updates")
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MAX_ERROR_SAMPLES = 10
MAX_USERS = 1_000_000
MAX_CONCURRENCY = 256
MAX_DURATION_S = 24 * 3600.0


# --- the HTTP client ------------------------------------------------------------------------

class LoadTransportError(Exception):
    """No usable answer: refused, reset, timed out, TLS, or a body over the size cap."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    elapsed_ms: float

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
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
            context = ssl.create_default_context(
                cafile=target.verify_tls if isinstance(target.verify_tls, str) else None)
            if target.verify_tls is False:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._context = context
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


# --- the cycle's requests ---------------------------------------------------------------------

# The names each step of the cycle puts in scope for its template, besides run_id, fake, idp and
# target. A template that needs another name is left out of the cycle (create_user: refused).
_USER = frozenset({"user"})
_GROUP = frozenset({"group", "group_name", "member_ids", "changed_ids"})  # no members yet at create
_UPDATE = frozenset({"user", "user_id", "current", "changes", "update", "attribute", "value"})
STEP_NAMES: dict[str, frozenset[str]] = {
    "lookup_user": _USER, "create_user": _USER, "lookup_group": _GROUP, "create_group": _GROUP,
    "add_members": _GROUP | {"group_id"}, "update_user": _UPDATE, "replace_attribute": _UPDATE,
    "delete_user": frozenset({"user_id"}), "deactivate_user": frozenset({"user_id"}),
    "delete_group": frozenset({"group_id"}),
}


# A value that is one `${name.key.key}` and nothing else: most template leaves are this.
_SIMPLE = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}")


@dataclass(frozen=True)
class _Path:
    names: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class _Text:
    text: str


def _compile(value: Any) -> Any:
    """A template with its constant parts kept as they are, so that each request renders only its
    `${...}` leaves: `render` would parse every string of the body again for every request."""
    if isinstance(value, str):
        if "${" not in value:
            return value
        simple = _SIMPLE.fullmatch(value)
        return _Path(tuple(simple.group(1).split(".")), value) if simple else _Text(value)
    if isinstance(value, Mapping):
        if any(not isinstance(k, str) or "${" in k for k in value):
            return _Text(value)  # type: ignore[arg-type]  # templated keys: render the whole mapping
        return {k: _compile(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_compile(item) for item in value]
    return value


def _evaluate(node: Any, scope: Mapping[str, Any]) -> Any:
    if isinstance(node, _Path):
        current: Any = scope
        for name in node.names:
            if not isinstance(current, Mapping) or name not in current:
                return render(node.text, scope)  # not a plain key path here: render says why or does it
            current = current[name]
        return current
    if isinstance(node, _Text):
        return render(node.text, scope)
    if isinstance(node, dict):
        return {k: _evaluate(v, scope) for k, v in node.items()}
    if isinstance(node, list):
        return [_evaluate(item, scope) for item in node]
    return node


@dataclass(frozen=True)
class Rendered:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


class CycleTemplates:
    """Renders the IdP profile's templates for the provisioning cycle; raises HarnessError up front
    when the profile lacks a template the cycle needs or needs a name the cycle cannot give."""

    def __init__(self, idp: IdpProfile, target: TargetProfile, token: str | None, data: RunData) -> None:
        self.idp = idp
        self.target = target
        self.token = token
        self.data = data
        self.base_scope = {
            "run_id": data.run_id, "fake": data, "idp": {"id": idp.id, "name": idp.name},
            "target": {"base_url": target.base_url, "capabilities": sorted(target.capabilities)},
        }
        self.notes: list[str] = []  # templates left out of the cycle, and why
        self._usable("create_user", required=True)
        self.lookup_user = self._usable("lookup_user")
        self.lookup_group = self._usable("lookup_group")
        self.create_group = self._usable("create_group")
        self.add_members = self._usable("add_members")
        self.update = self._usable("update_user") or self._usable("replace_attribute")
        # Removal falls back to a plain DELETE (or PATCH active=false) when the template cannot be used.
        self.delete_user = self._usable("delete_user", note=False)
        self.delete_group = self._usable("delete_group", note=False)
        self.deactivate_user = self._usable("deactivate_user", note=False)
        # Okta's update is a PUT of the whole user: it needs the user as created (`current`); other
        # profiles re-send the user's own attributes (`user`).
        needs = idp.request_names.get(self.update, set()) if self.update else set()
        self.keeps_current = "current" in needs
        self.keeps_user = "user" in needs
        self._compiled = {
            name: (_compile(r.method), _compile(r.path), _compile(r.query) if r.query else None,
                   _compile(r.headers) if r.headers else None, _compile(r.body) if r.has_body else None)
            for name, r in idp.requests.items()
        }
        self._updates = itertools.count(1)

    def _usable(self, name: str, *, required: bool = False, note: bool = True) -> str | None:
        """`name` when the profile has that template and the cycle can fill it in, else None."""
        if name not in self.idp.requests:
            if required:
                raise HarnessError(f"IdP profile {self.idp.id!r} has no {name!r} request template: "
                                   "the load replay needs it")
            return None
        missing = self.idp.request_names.get(name, set()) - STEP_NAMES[name] - set(self.base_scope)
        if missing:
            reason = (f"template {name!r} of IdP profile {self.idp.id!r} needs {', '.join(sorted(missing))}, "
                      "which the load replay does not have at that step")
            if required:
                raise HarnessError(reason)
            if note:
                self.notes.append(f"{reason}: left out")
            return None
        return name

    def render(self, name: str, scope: Mapping[str, Any]) -> Rendered:
        request = self.idp.requests[name]
        c_method, c_path, c_query, c_headers, c_body = self._compiled[name]
        full = {**self.base_scope, **scope}
        try:
            method = str(_evaluate(c_method, full)).upper()
            path = str(_evaluate(c_path, full))
            query = _evaluate(c_query, full) if c_query is not None else None
            headers: dict[str, str] = {**self.idp.headers}
            if request.has_body:
                headers.update(self.idp.body_headers)
            if c_headers is not None:
                headers.update(_evaluate(c_headers, full))
            body = (json.dumps(_evaluate(c_body, full), ensure_ascii=False).encode("utf-8")
                    if request.has_body else None)
        except TemplateError as exc:
            raise HarnessError(f"{self.idp.request_origins.get(name, name)}: {exc}") from None
        return Rendered(method, join_url(self.target.base_url or "", path, query),
                        self._with_auth({k: v for k, v in headers.items() if v is not None}, request.auth), body)

    def raw(self, method: str, path: str, body: Any = None) -> Rendered:
        """A request the profile has no template for (cleanup): the IdP's headers, a JSON body."""
        headers = {**self.idp.headers, **(self.idp.body_headers if body is not None else {})}
        content = json.dumps(body).encode("utf-8") if body is not None else None
        return Rendered(method, join_url(self.target.base_url or "", path), self._with_auth(headers, "default"),
                        content)

    def _with_auth(self, headers: dict[str, str], mode: str) -> dict[str, str]:
        if mode == "default" and self.target.auth_type != "none" and self.token:
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    # --- the cycle's requests, by step ---

    def user_scope(self) -> dict[str, Any]:
        return {"user": self.data.user()}

    def group_scope(self) -> dict[str, Any]:
        group = self.data.group()
        return {"group": group, "group_name": group["displayName"], "member_ids": [], "changed_ids": []}

    def members_scope(self, group: Mapping[str, Any], group_id: str, member_ids: list[str]) -> dict[str, Any]:
        return {"group": group, "group_name": group.get("displayName"), "group_id": group_id,
                "member_ids": member_ids, "changed_ids": member_ids}

    def update_scope(self, user_id: str, current: Any, user: Any = None) -> dict[str, Any]:
        """A profile change (new names, work email, employee number, department): made up here
        rather than by Faker, which would cost more than sending the request."""
        n = next(self._updates)
        tag = f"{self.data.run_id}-u{n}"
        given, family = "Updated", f"User{n}"
        display = f"{given} {family} ({tag})"
        changes = {"displayName": display, "name": {"givenName": given, "familyName": family}}
        update = {"displayName": display, "workEmail": f"updated-{tag}@{self.data.email_domain}",
                  "givenName": given, "familyName": family, "externalId": str(uuid.uuid4()),
                  "employeeNumber": str(100000 + n % 900000), "department": "Load replay"}
        return {"user_id": user_id, "current": current if isinstance(current, dict) else {}, "changes": changes,
                "update": update, "attribute": "displayName", "value": display,
                "user": {**user, "displayName": display} if isinstance(user, dict) else {}}

    def removal(self, collection: str, resource_id: str) -> tuple[str, Rendered] | None:
        """How to remove one created resource, as the runner's cleanup does; None: leave it."""
        caps = self.target.capabilities
        if collection == "/Groups":
            if "delete_groups" not in caps:
                return None
            if self.delete_group:
                return "delete", self.render(self.delete_group, {"group_id": resource_id})
            return "delete", self.raw("DELETE", f"/Groups/{resource_id}")
        if "delete_users" in caps:
            if self.delete_user:
                return "delete", self.render(self.delete_user, {"user_id": resource_id})
            return "delete", self.raw("DELETE", f"/Users/{resource_id}")
        if "patch" not in caps:
            return None
        if self.deactivate_user:
            return "deactivate", self.render(self.deactivate_user, {"user_id": resource_id})
        return "deactivate", self.raw("PATCH", f"/Users/{resource_id}", {
            "schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": False}]})


def lean_run_data(run_id: str, email_domain: str, worker: str = "") -> RunData:
    """RunData for the load (names carry the run id, as `cleanup --run-id` expects)."""
    return RunData(run_id, email_domain=email_domain, worker=worker)


def created_id(answer: Answer) -> tuple[str | None, Any]:
    """The id a 2xx answer to a create names, and the answer's JSON."""
    if not 200 <= answer.status < 300:
        return None, None
    body = answer.json()
    resource_id = body.get("id") if isinstance(body, dict) else None
    return (resource_id if isinstance(resource_id, str) and resource_id else None), body


def found_existing(answer: Answer) -> bool:
    """A lookup that found the resource already there (the IdP then matches instead of creating)."""
    if answer.status != 200:
        return False
    body = answer.json()
    return isinstance(body, dict) and isinstance(body.get("totalResults"), int) and body["totalResults"] > 0


# --- statistics -----------------------------------------------------------------------------

def percentile(sorted_values: Any, q: float) -> float | None:
    """The nearest-rank percentile `q` (0..100) of already sorted values; None when empty."""
    n = len(sorted_values)
    if not n:
        return None
    rank = max(1, min(n, int(-(-q * n // 100))))  # ceil(q/100 * n)
    return float(sorted_values[rank - 1])


def latency_summary(values: Any) -> dict[str, float | None]:
    ordered = sorted(values)
    return {
        "p50": _round(percentile(ordered, 50)), "p95": _round(percentile(ordered, 95)),
        "p99": _round(percentile(ordered, 99)), "max": _round(ordered[-1] if ordered else None),
        "mean": _round(sum(ordered) / len(ordered) if ordered else None),
    }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class _PhaseStats:
    latencies: array = field(default_factory=lambda: array("d"))
    statuses: Counter[str] = field(default_factory=Counter)

    def merge(self, other: _PhaseStats) -> None:
        self.latencies.extend(other.latencies)
        self.statuses.update(other.statuses)


class _Recorder:
    """Per-thread counters, merged when the phase ends (no lock on the hot path)."""

    def __init__(self) -> None:
        self.phases: dict[str, _PhaseStats] = {}
        self.samples: list[dict[str, Any]] = []

    def record(self, phase: str, status: str, elapsed_ms: float | None) -> None:
        stats = self.phases.get(phase)
        if stats is None:
            stats = self.phases[phase] = _PhaseStats()
        stats.statuses[status] += 1
        if elapsed_ms is not None:
            stats.latencies.append(elapsed_ms)


# --- the run ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class LoadOptions:
    users: int = 100
    groups: int = 5
    members: int = 50
    batch: int = 50
    updates: int | None = None  # default: every created user
    concurrency: int = 8
    duration: float = 60.0
    cleanup_timeout: float = 300.0
    progress: bool | None = None  # None: when stderr is a terminal


@dataclass
class _Phase:
    name: str
    total: int
    task: Callable[[int, _Recorder], int]  # runs item i, returns requests sent
    started: float = 0.0
    ended: float = 0.0
    done: int = 0  # items finished
    requests: int = 0


class LoadRun:
    """One load replay: the cycle's phases with bounded concurrency and time, then cleanup."""

    def __init__(self, templates: CycleTemplates, client: LeanClient, options: LoadOptions) -> None:
        self.t = templates
        self.client = client
        self.options = options
        self.created_users: list[str | None] = [None] * options.users
        self.currents: list[Any] = [None] * options.users if templates.keeps_current else []
        self.user_data: list[Any] = [None] * options.users if templates.keeps_user else []
        self.group_data: list[dict[str, Any]] = [{} for _ in range(options.groups)]
        self.created_groups: list[str | None] = [None] * options.groups
        self.existing = Counter[str]()
        self.memberships = 0
        self.recorders: list[_Recorder] = []
        self._recorders_lock = threading.Lock()
        self.stop = threading.Event()
        self.stopped_reason: str | None = None
        self.phases: list[_Phase] = []
        self.current: _Phase | None = None
        self._member_tasks: list[tuple[int, str, list[str]]] = []  # group index, group id, member ids
        self._update_ids: list[int] = []

    # --- one request ---

    def _send(self, recorder: _Recorder, phase: str, name: str, rendered: Rendered) -> Answer | None:
        try:
            answer = self.client.send(rendered.method, rendered.url, rendered.headers, rendered.body)
        except LoadTransportError as exc:
            recorder.record(phase, f"error: {exc.kind}", None)
            self._sample(recorder, phase, name, rendered.method, f"error: {exc.kind}", None)
            return None
        recorder.record(phase, str(answer.status), answer.elapsed_ms)
        if answer.status >= 400:
            self._sample(recorder, phase, name, rendered.method, str(answer.status), answer)
        return answer

    def _sample(self, recorder: _Recorder, phase: str, name: str, method: str, status: str,
                answer: Answer | None) -> None:
        if len(recorder.samples) >= MAX_ERROR_SAMPLES:
            return
        sample: dict[str, Any] = {"phase": phase, "request": name, "method": method, "status": status}
        body = answer.json() if answer is not None else None
        if isinstance(body, dict):
            for key in ("scimType", "detail"):
                if isinstance(body.get(key), str):
                    sample[key] = redactor.text(body[key][:200])
        recorder.samples.append(sample)

    # --- the phases' items ---

    def _user(self, i: int, recorder: _Recorder) -> int:
        scope = self.t.user_scope()
        sent = 0
        if self.t.lookup_user:
            answer = self._send(recorder, "users", self.t.lookup_user, self.t.render(self.t.lookup_user, scope))
            sent += 1
            if answer is None:
                return sent
            if found_existing(answer):
                with self._recorders_lock:
                    self.existing["users"] += 1  # the IdP matches it; the load never touches it
                return sent
        answer = self._send(recorder, "users", "create_user", self.t.render("create_user", scope))
        sent += 1
        if answer is not None:
            resource_id, body = created_id(answer)
            self.created_users[i] = resource_id
            if resource_id and self.currents:
                self.currents[i] = body
            if resource_id and self.user_data:
                self.user_data[i] = scope["user"]
        return sent

    def _group(self, g: int, recorder: _Recorder) -> int:
        assert self.t.create_group is not None
        scope = self.t.group_scope()
        sent = 0
        if self.t.lookup_group:
            answer = self._send(recorder, "groups", self.t.lookup_group, self.t.render(self.t.lookup_group, scope))
            sent += 1
            if answer is None:
                return sent
            if found_existing(answer):
                with self._recorders_lock:
                    self.existing["groups"] += 1
                return sent
        answer = self._send(recorder, "groups", self.t.create_group, self.t.render(self.t.create_group, scope))
        if answer is not None:
            self.created_groups[g] = created_id(answer)[0]
            self.group_data[g] = scope["group"]
        return sent + 1

    def _members(self, k: int, recorder: _Recorder) -> int:
        assert self.t.add_members is not None
        g, group_id, member_ids = self._member_tasks[k]
        scope = self.t.members_scope(self.group_data[g], group_id, member_ids)
        answer = self._send(recorder, "members", self.t.add_members, self.t.render(self.t.add_members, scope))
        if answer is not None and 200 <= answer.status < 300:
            with self._recorders_lock:
                self.memberships += len(member_ids)
        return 1

    def _update(self, k: int, recorder: _Recorder) -> int:
        assert self.t.update is not None
        i = self._update_ids[k]
        user_id = self.created_users[i]
        assert user_id is not None
        current = self.currents[i] if self.currents else None
        user = self.user_data[i] if self.user_data else None
        rendered = self.t.render(self.t.update, self.t.update_scope(user_id, current, user))
        self._send(recorder, "updates", self.t.update, rendered)
        return 1

    # --- running a phase ---

    def _run_phase(self, phase: _Phase, deadline: float) -> None:
        self.phases.append(phase)
        self.current = phase
        phase.started = time.perf_counter()
        counter = itertools.count()
        lock = threading.Lock()
        problems: list[BaseException] = []

        def work() -> None:
            recorder = _Recorder()
            with self._recorders_lock:
                self.recorders.append(recorder)
            try:
                while not self.stop.is_set():
                    i = next(counter)
                    if i >= phase.total:
                        return
                    if time.perf_counter() >= deadline:
                        self.stopped_reason = self.stopped_reason or f"time limit reached during {phase.name}"
                        self.stop.set()
                        return
                    sent = phase.task(i, recorder)
                    with lock:
                        phase.done += 1
                        phase.requests += sent
            except BaseException as exc:  # a harness error in a template: stop everything, report it
                problems.append(exc)
                self.stop.set()
            finally:
                self.client.close()

        threads = [threading.Thread(target=work, name=f"load-{phase.name}-{n}", daemon=True)
                   for n in range(min(self.options.concurrency, max(phase.total, 1)))]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except KeyboardInterrupt:
            # Ctrl-C: no new item starts; the ones in flight finish (bounded by the read timeout)
            # so that cleanup sees every id the server gave out.
            self.stop.set()
            for thread in threads:
                thread.join()
            raise
        finally:
            phase.ended = time.perf_counter()
        if problems:
            raise problems[0]

    def run(self, deadline: float) -> None:
        """The four phases, in order; each starts when the previous one has finished."""
        o = self.options
        self._run_phase(_Phase("users", o.users, self._user), deadline)
        if self.stop.is_set():
            return
        if o.groups and self.t.create_group:
            self._run_phase(_Phase("groups", o.groups, self._group), deadline)
        if self.stop.is_set():
            return
        created = [u for u in self.created_users if u]
        if o.members and created and self.t.add_members:
            per_group = min(o.members, len(created))
            for g, group_id in enumerate(self.created_groups):
                if not group_id:
                    continue
                chosen = [created[(g * per_group + k) % len(created)] for k in range(per_group)]
                self._member_tasks += [(g, group_id, chosen[s:s + o.batch]) for s in range(0, per_group, o.batch)]
            if self._member_tasks:
                self._run_phase(_Phase("members", len(self._member_tasks), self._members), deadline)
        if self.stop.is_set():
            return
        if self.t.update:
            with_ids = [i for i, u in enumerate(self.created_users) if u]
            self._update_ids = with_ids[: o.updates if o.updates is not None else len(with_ids)]
            if self._update_ids:
                self._run_phase(_Phase("updates", len(self._update_ids), self._update), deadline)

    # --- cleanup ---

    def cleanup(self, timeout: float) -> dict[str, Any]:
        """Remove what this run created, groups first, within `timeout` seconds."""
        started = time.perf_counter()
        deadline = started + timeout
        jobs: list[tuple[str, str]] = [("/Groups", g) for g in self.created_groups if g]
        groups_end = len(jobs)
        jobs += [("/Users", u) for u in self.created_users if u]
        outcome: Counter[str] = Counter()
        left: list[str] = []
        lock = threading.Lock()

        def remove(collection: str, resource_id: str, rec: _Recorder) -> None:
            how = self.t.removal(collection, resource_id)
            if how is None:
                with lock:
                    outcome["left in place (target cannot remove)"] += 1
                    left.append(f"{collection}/{resource_id}")
                return
            action, rendered = how
            answer = self._send(rec, "cleanup", f"{action} {collection}", rendered)
            ok = answer is not None and (200 <= answer.status < 300 or answer.status == 404)
            with lock:
                if ok:
                    outcome[f"{'deleted' if action == 'delete' else 'deactivated'} {collection[1:].lower()}"] += 1
                else:
                    outcome["failed"] += 1
                    left.append(f"{collection}/{resource_id}")

        # Groups first (they hold the users), then users; each part with the run's concurrency.
        for part in (jobs[:groups_end], jobs[groups_end:]):
            counter = itertools.count()

            def work(part: list[tuple[str, str]] = part, counter: Iterator[int] = counter) -> None:
                rec = _Recorder()
                with self._recorders_lock:
                    self.recorders.append(rec)
                try:
                    while True:
                        i = next(counter)
                        if i >= len(part):
                            return
                        if time.perf_counter() >= deadline:
                            with lock:
                                left.append(f"{part[i][0]}/{part[i][1]}")
                                outcome["not removed (cleanup time limit)"] += 1
                            continue
                        remove(*part[i], rec)
                finally:
                    self.client.close()

            threads = [threading.Thread(target=work, daemon=True)
                       for _ in range(min(self.options.concurrency, max(len(part), 1)))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        return {"elapsed_s": round(time.perf_counter() - started, 3), "outcome": dict(outcome),
                "left": left[:100], "left_count": len(left), "complete": not left}

    # --- results ---

    def merged(self) -> tuple[dict[str, _PhaseStats], list[dict[str, Any]]]:
        merged: dict[str, _PhaseStats] = {}
        samples: list[dict[str, Any]] = []
        with self._recorders_lock:
            recorders = list(self.recorders)
        for recorder in recorders:
            for name, stats in recorder.phases.items():
                merged.setdefault(name, _PhaseStats()).merge(stats)
            samples += recorder.samples
        return merged, samples[:MAX_ERROR_SAMPLES]

    def progress_line(self, started: float, duration: float) -> str:
        phase = self.current
        sent = sum(p.requests for p in self.phases)
        elapsed = time.perf_counter() - started
        where = f"{phase.name} {phase.done}/{phase.total}" if phase else "starting"
        return (f"load: {where}  requests {sent}  {sent / elapsed if elapsed > 0 else 0:,.0f}/s  "
                f"{elapsed:.0f}s of {duration:.0f}s")


def _ok(status: str) -> bool:
    return status[:1] == "2"


def _phase_report(name: str, stats: _PhaseStats, seconds: float | None) -> dict[str, Any]:
    requests = sum(stats.statuses.values())
    return {
        "phase": name, "requests": requests,
        "elapsed_s": _round(seconds, 3),
        "throughput_rps": _round(requests / seconds if seconds else None, 1),
        "latency_ms": latency_summary(stats.latencies),
        "statuses": dict(sorted(stats.statuses.items())),
        "errors": {k: v for k, v in sorted(stats.statuses.items()) if not _ok(k)},
    }


def run_load(target: TargetProfile, token: str | None, idp: IdpProfile, options: LoadOptions, *,
             run_id: str | None = None, out: Path | None = None, stream: Any = None) -> dict[str, Any]:
    """Run the cycle against `target` (a concrete base URL) and return the report (also as JSON in `out`)."""
    stream = stream or sys.stdout
    run_id = run_id or new_run_id()
    redactor.add_secret(token)
    data = lean_run_data(run_id, target.email_domain)
    templates = CycleTemplates(idp, target, token, data)
    client = LeanClient(target)
    run = LoadRun(templates, client, options)
    where = redactor.text(target.base_url or "")
    print(f"Load replay: {idp.name} ({idp.id}) initial cycle against {where}, run id {run_id}", file=stream)
    print(f"  {options.users} users, {options.groups} groups of {options.members} members in batches of "
          f"{options.batch}, concurrency {options.concurrency}, at most {options.duration:g}s", file=stream)
    show = sys.stderr.isatty() if options.progress is None else options.progress
    started_at = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    done = threading.Event()

    def progress() -> None:
        while not done.wait(0.25):
            print("\r" + run.progress_line(started, options.duration) + " " * 8, end="", file=sys.stderr, flush=True)

    ticker = threading.Thread(target=progress, daemon=True) if show else None
    if ticker:
        ticker.start()
    interrupted = False
    harness_error: str | None = None
    try:
        run.run(started + options.duration)
    except KeyboardInterrupt:
        interrupted = True
        run.stop.set()
        run.stopped_reason = "interrupted"
    except HarnessError as exc:  # a template the cycle cannot render: stop, but still clean up
        harness_error = str(exc)
        run.stopped_reason = f"harness error: {exc}"
    finally:
        done.set()
        if ticker:
            ticker.join()
            print("\r" + run.progress_line(started, options.duration), file=sys.stderr, flush=True)
    provisioning_s = time.perf_counter() - started
    print(f"Removing what the run created ({sum(map(bool, run.created_groups))} groups, "
          f"{sum(map(bool, run.created_users))} users)...", file=sys.stderr, flush=True)
    try:
        cleanup = run.cleanup(options.cleanup_timeout)
    except KeyboardInterrupt:
        cleanup = {"complete": False, "left_count": None, "outcome": {"interrupted": 1}, "left": []}
    merged, samples = run.merged()
    phases = [_phase_report(p.name, merged.get(p.name, _PhaseStats()), p.ended - p.started) for p in run.phases]
    total = _PhaseStats()
    for p in run.phases:
        total.merge(merged.get(p.name, _PhaseStats()))
    cleanup_stats = merged.get("cleanup", _PhaseStats())
    cleanup.update({k: v for k, v in _phase_report("cleanup", cleanup_stats, cleanup.get("elapsed_s")).items()
                    if k in ("requests", "throughput_rps", "latency_ms", "statuses", "errors")})
    requests = sum(total.statuses.values())
    report: dict[str, Any] = {
        "tool": f"scim-conformance load {__version__}",
        "started_at": started_at.isoformat(timespec="seconds"),
        "target": where, "idp": idp.id, "run_id": run_id,
        "parameters": {"users": options.users, "groups": options.groups, "members": options.members,
                       "batch": options.batch, "updates": options.updates, "concurrency": options.concurrency,
                       "duration_s": options.duration},
        "completed": run.stopped_reason is None,
        "stopped": run.stopped_reason,
        "elapsed_s": round(provisioning_s, 3),
        "requests": requests,
        "throughput_rps": round(requests / provisioning_s, 1) if provisioning_s > 0 else None,
        "latency_ms": latency_summary(total.latencies),
        "statuses": dict(sorted(total.statuses.items())),
        "errors": {k: v for k, v in sorted(total.statuses.items()) if not _ok(k)},
        "created": {"users": sum(map(bool, run.created_users)), "groups": sum(map(bool, run.created_groups)),
                    "memberships": run.memberships},
        "existing": dict(run.existing),
        "phases": phases,
        "cleanup": cleanup,
        "error_samples": samples,
        "notes": templates.notes,
    }
    if interrupted:
        report["stopped"] = "interrupted"
    if harness_error:
        report["harness_error"] = harness_error
    print(render_report(report), file=stream)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"JSON:      {out}", file=stream)
    return report


def render_report(report: dict[str, Any]) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    lines = ["", f"  {'phase':<9} {'requests':>9} {'seconds':>8} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} "
             f"{'p99 ms':>8} {'errors':>7}"]
    rows = [*report["phases"], {"phase": "total", **{k: report[k] for k in ("requests", "throughput_rps",
                                                                           "latency_ms", "errors")},
                                "elapsed_s": report["elapsed_s"]}]
    for row in rows:
        latency = row["latency_ms"]
        lines.append(f"  {row['phase']:<9} {row['requests']:>9} {row['elapsed_s'] or 0:>8.2f} "
                     f"{row['throughput_rps'] or 0:>9,.1f} {ms(latency['p50']):>8} {ms(latency['p95']):>8} "
                     f"{ms(latency['p99']):>8} {sum(row['errors'].values()):>7}")
    created = report["created"]
    lines += ["", f"Created:   {created['users']} users, {created['groups']} groups, "
                  f"{created['memberships']} memberships"
              + (f" (already there, not touched: {report['existing']})" if report["existing"] else "")]
    lines.append("Statuses:  " + (", ".join(f"{k}: {v}" for k, v in report["statuses"].items()) or "none"))
    lines.append("Errors:    " + (", ".join(f"{k}: {v}" for k, v in report["errors"].items()) or "none"))
    for sample in report["error_samples"][:3]:
        detail = " ".join(str(sample.get(k, "")) for k in ("scimType", "detail")).strip()
        lines.append(f"  e.g. {sample['phase']} {sample['request']} -> {sample['status']}"
                     + (f": {detail}" if detail else ""))
    if report["stopped"]:
        lines.append(f"Stopped:   {report['stopped']} (the rest of the cycle was not sent)")
    for note in report.get("notes", []):
        lines.append(f"Note:      {note}")
    cleanup = report["cleanup"]
    outcome = ", ".join(f"{k}: {v}" for k, v in cleanup["outcome"].items()) or "nothing to remove"
    lines.append(f"Cleanup:   {outcome} in {cleanup.get('elapsed_s') or 0:.2f}s"
                 + ("" if cleanup["complete"] else
                    f"; NOT complete: run `scim-conformance cleanup --target T --run-id {report['run_id']}`"))
    return "\n".join(lines)


# --- command line -----------------------------------------------------------------------------

def _positive(kind: type, low: float, high: float) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is out of range ({low:g}..{high:g})")
        return value
    return parse


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register `load` on the CLI's subcommands."""
    load = commands.add_parser(
        "load", help="replay an IdP's initial provisioning cycle at scale (throughput, latency, errors)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Replay the initial provisioning cycle of an IdP the way its profile sends it: a lookup and a\n"
                    "create for every user, groups created and their members added in batches, then an\n"
                    "incremental cycle of updates; with bounded concurrency and time. Prints throughput,\n"
                    "latency p50/p95/p99 and errors by status, and removes everything it created.",
        epilog="examples:\n"
               "  scim-conformance load --target embedded --idp entra --users 1000 --groups 10 --members 100\n"
               "  SCIM_TOKEN=... scim-conformance load --target https://scim.example.com/scim/v2 --idp entra \\\n"
               "      --users 10000 --groups 50 --members 500 --concurrency 16 --duration 600 --out load.json\n\n"
               "To spread the same load over several machines, run conformance/locustfile.py with Locust\n"
               "(docs/performance.md). Exit status: 0 when every request got a 2xx answer and cleanup\n"
               "removed everything; 1 otherwise; 2 on usage errors and templates the cycle cannot fill\n"
               "in; 130 when interrupted (Ctrl-C, SIGTERM: cleanup still runs).")
    load.add_argument("--target", "-t", required=True, metavar="URL|PROFILE",
                      help="base URL, target profile name or file, or 'embedded'")
    load.add_argument("--idp", default="entra", metavar="ID", help="IdP profile whose cycle to replay (default: entra)")
    load.add_argument("--users", type=_positive(int, 0, MAX_USERS), default=100, metavar="N",
                      help="users to look up and create (default: 100)")
    load.add_argument("--groups", type=_positive(int, 0, MAX_USERS), default=5, metavar="G",
                      help="groups to create (default: 5)")
    load.add_argument("--members", type=_positive(int, 0, MAX_USERS), default=50, metavar="M",
                      help="members of each group, taken from the created users (default: 50)")
    load.add_argument("--batch", type=_positive(int, 1, 10_000), default=50, metavar="B",
                      help="members added per PATCH (default: 50)")
    load.add_argument("--updates", type=_positive(int, 0, MAX_USERS), default=None, metavar="U",
                      help="users changed in the incremental cycle (default: every created user)")
    load.add_argument("--concurrency", "-c", type=_positive(int, 1, MAX_CONCURRENCY), default=8, metavar="C",
                      help="requests in flight at once (default: 8)")
    load.add_argument("--duration", type=_positive(float, 0.1, MAX_DURATION_S), default=60.0, metavar="S",
                      help="stop sending after S seconds, wherever the cycle is (default: 60); cleanup follows")
    load.add_argument("--cleanup-timeout", type=_positive(float, 1, MAX_DURATION_S), default=300.0, metavar="S",
                      help="time allowed for removing what was created (default: 300)")
    load.add_argument("--out", metavar="FILE", help="write the results as JSON (for plotting)")
    load.add_argument("--run-id", metavar="ID", help="run id put into generated names (default: random)")
    load.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    load.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    load.set_defaults(handler=cmd_load)
    return load


def cmd_load(args: argparse.Namespace) -> int:
    from conformance.engine import cleanup
    from conformance.engine.paths import find_profiles_dir

    if args.run_id and not cleanup.RUN_ID_PATTERN.match(args.run_id):
        print(f"error: --run-id {args.run_id!r}: letters, digits, '-' and '_'", file=sys.stderr)
        return 2
    try:
        profiles_dir = find_profiles_dir()
        target = resolve_target(args.target, profiles_dir)
        idps = load_idp_profiles(profiles_dir)
    except (HarnessError, ScenarioFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.idp not in idps:
        print(f"error: --idp {args.idp}: no such IdP profile (known: {', '.join(sorted(idps))})", file=sys.stderr)
        return 2
    if args.insecure:
        from dataclasses import replace

        target = replace(target, verify_tls=False)
    options = LoadOptions(users=args.users, groups=args.groups, members=args.members, batch=args.batch,
                          updates=args.updates, concurrency=args.concurrency, duration=args.duration,
                          cleanup_timeout=args.cleanup_timeout, progress=False if args.no_progress else None)
    token = target.token()
    if threading.current_thread() is threading.main_thread():
        # CI cancels a job with SIGTERM: stop sending and still remove what was created.
        signal.signal(signal.SIGTERM, _interrupt)
    with _started_target(target, token) as (concrete, token):
        try:
            report = run_load(concrete, token, idps[args.idp], options, run_id=args.run_id,
                              out=Path(args.out) if args.out else None)
        except HarnessError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if report["stopped"] == "interrupted":
        return 130
    if report.get("harness_error"):
        print(f"error: {report['harness_error']}", file=sys.stderr)
        return 2
    return 0 if not report["errors"] and report["cleanup"]["complete"] else 1


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def _started_target(target: TargetProfile, token: str | None) -> Iterator[tuple[TargetProfile, str | None]]:
    """The target with a base URL: the embedded server is started here (and stopped after)."""
    if not target.embedded:
        yield target, token
        return
    from conformance.engine.embedded import start_embedded, stop_embedded

    token = token or secrets.token_urlsafe(24)
    redactor.add_secret(token)
    server = start_embedded(token)
    try:
        yield with_base_url(target, server.base_url), token
    finally:
        stop_embedded(server)


def main(argv: list[str] | None = None) -> int:  # python -m conformance.loadtest.load
    parser = argparse.ArgumentParser(prog="python -m conformance.loadtest.load")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["load", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
