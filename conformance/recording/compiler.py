"""Observed HTTP exchanges -> a scenario file. Shared by `scim-conformance record` and `import`.

The input is what passed between an IdP and a SCIM server, request by request (`Observed`). The
output is a scenario (`*.scenario.yaml` text) that replays those requests in order and expects
what the server answered then:

* each request becomes a step with method, path, query, headers and JSON body as they were sent,
  and `expect: {status: <observed>}`, plus `headers` (content type, Location, ETag present),
  `schema` (when the answer is a valid SCIM message of a known kind) and `json` (the answer's
  stable values: no meta timestamps, no `$ref` URLs, no server-generated value that is not
  captured yet, no lists whose content depends on what else is on the server);
* values the server generated (resource ids, ETags) become captures at the step that first
  returned them (`capture: {user_1_id: body.id}`) and references (`${user_1_id}`) in every later
  step, in paths, query values, headers, bodies and expectations;
* personal data (userName, emails, names, displayName, nickName, externalId, phone numbers,
  street addresses) is replaced by generated values: `vars: {user_1: "${fake.user()}"}` and
  `${user_1.userName}`, consistently across requests and answers (unless `keep_values`);
* secrets are never written: Authorization, Cookie and the other headers `conformance.engine.redact`
  knows are dropped (the harness adds its own Authorization), passwords and tokens in bodies
  become generated passwords (`${user_1.password}`), query parameters with secret names are left
  out, and the finished text is scanned for every secret value seen before it is returned.

The harness's engine decides what can be replayed: only GET, POST, PUT, PATCH and DELETE, JSON
bodies, and one value per query parameter. Anything else is left out and said so.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml

from conformance.engine import rfc
from conformance.engine.redact import MASK, SENSITIVE_HEADERS, Redactor

__all__ = [
    "HOP_BY_HOP",
    "Observed",
    "Recording",
    "RecordingError",
    "build_scenario",
    "scenario_id_for",
]

# RFC 9110 §7.6.1: headers that concern one connection, never forwarded, never replayed.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade",
})
# Also not replayed: the transport sets Host and Content-Length itself and negotiates its own
# Accept-Encoding (a recorded "br" could come back in an encoding it cannot read).
_NOT_REPLAYED = HOP_BY_HOP | {"host", "content-length", "accept-encoding", "expect"}
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:user"
_CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:group"
_ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"
_LIST = "urn:ietf:params:scim:api:messages:2.0:listresponse"
_ERROR = "urn:ietf:params:scim:api:messages:2.0:error"
_DISCOVERY = frozenset({"serviceproviderconfig", "serviceproviderconfigs", "resourcetypes", "schemas"})
_MAX_JSON_CHARS = 6000  # a larger expected body (a /Schemas page) is cut down to its top-level scalars
_SUBSTRING_MIN = 6  # shorter personal values are replaced only where they are a whole string
_GENERATED_SUBSTRING_MIN = 8  # ids like "1" or "42" are replaced only as whole values and path segments
_OKTA_ID = re.compile(r"^00u[A-Za-z0-9]{17}$")

# Personal data by attribute (lower-cased path, core URN removed): (slot, template). Two values of
# one slot for one resource (a rename) take a second generated person, `user_1_v2`.
_USER_FIELDS: dict[tuple[str, ...], tuple[str, str]] = {
    ("username",): ("login", "${@.userName}"),
    ("emails", "value"): ("login", "${@.email}"),  # fake.user(): email == userName
    ("displayname",): ("displayName", "${@.displayName}"),
    ("nickname",): ("nickName", "${@.givenName}"),
    ("name", "givenname"): ("givenName", "${@.givenName}"),
    ("name", "familyname"): ("familyName", "${@.familyName}"),
    ("name", "middlename"): ("middleName", "${@.givenName}"),
    ("name", "formatted"): ("formatted", "${@.formatted}"),
    ("externalid",): ("externalId", "${@.externalId}"),
    ("phonenumbers", "value"): ("phone", "+1 555 ${@.employeeNumber}"),
    ("addresses", "streetaddress"): ("street", "${@.employeeNumber} Main Street"),
    ("addresses", "formatted"): ("address", "${@.employeeNumber} Main Street, Springfield"),
}
_GROUP_FIELDS: dict[tuple[str, ...], tuple[str, str]] = {
    ("displayname",): ("displayName", "${@.displayName}"),
    ("externalid",): ("externalId", "${@.externalId}"),
}
# Values inside one resource that name another one: path -> (kind of the other, its attribute).
_REFERENCES: dict[tuple[str, ...], tuple[str, tuple[str, ...]]] = {
    ("members", "display"): ("user", ("displayname",)),
    ("groups", "display"): ("group", ("displayname",)),
    (_ENTERPRISE, "manager", "displayname"): ("user", ("displayname",)),
}
_PASSWORD = ("password", "${@.password}")
# Slots that tell which resource a lookup was about: a lookup by one of them, then the create or
# the answer that carries it, are the same resource (and the same generated person).
_IDENTIFYING = {"user": ("login", "externalId")}
# attrPath op "value" in a filter (RFC 7644 §3.4.2.2); the attribute may carry a [value filter].
_COMPARISON = re.compile(
    r"(?P<attr>[A-Za-z_$][\w$:.\-]*(?:\[[^\]]*\])?(?:\.[A-Za-z_$][\w$]*)?)\s+"
    r"(?P<op>eq|ne|co|sw|ew|gt|ge|lt|le)\s+(?P<lit>\"(?:[^\"\\]|\\.)*\")",
    re.IGNORECASE,
)
_PATCH_PATH = re.compile(r"^(?P<attr>[^\[\]]+?)(?:\[(?P<filter>.*)\])?(?:\.(?P<sub>[A-Za-z_$][\w$]*))?$", re.S)


class RecordingError(Exception):
    """The exchanges cannot become a scenario (none is replayable), or a secret would be written."""


@dataclass
class Observed:
    """One request and the target's answer, as they passed (bodies without content-encoding)."""

    method: str
    target: str  # the request target as sent: path and query, percent-encoded (/v2/Users?filter=...)
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    response_headers: list[tuple[str, str]]
    response_body: bytes
    response_complete: bool = True  # False: the body was cut (too large, client gone, undecodable)

    def request_header(self, name: str) -> str | None:
        return _header(self.request_headers, name)

    def response_header(self, name: str) -> str | None:
        return _header(self.response_headers, name)


@dataclass
class Recording:
    """A scenario built from exchanges: its text and what was left out."""

    text: str
    steps: int
    left_out: list[str] = field(default_factory=list)  # one line per exchange not replayed, and why
    notes: list[str] = field(default_factory=list)  # what a replay may trip on


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in headers if k.lower() == name.lower()]
    return ", ".join(values) if values else None


def _json(raw: bytes) -> Any:
    if not raw or not raw.strip():
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return _NOT_JSON


class _NotJsonType:
    def __repr__(self) -> str:
        return "<not JSON>"


_NOT_JSON: Any = _NotJsonType()
_DROP: Any = object()  # an expected value left out of a `json` check


def scenario_id_for(out_name: str) -> str:
    """`entra sync.scenario.yaml` -> `recorded-entra-sync`: a valid, readable scenario id."""
    stem = out_name.split("/")[-1]
    for suffix in (".scenario.yaml", ".yaml", ".yml", ".har"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "traffic"
    return slug if slug.startswith("recorded") else f"recorded-{slug}"


# --------------------------------------------------------------------------- paths and keys


def _key_path(key: str) -> tuple[str, ...]:
    """A body key (or PATCH path) as a lower-cased attribute path; the core URN is dropped."""
    low = key.strip().lower()
    for urn in (_CORE_USER, _CORE_GROUP):
        if low == urn:
            return ()
        if low.startswith(urn + ":"):
            return tuple(low[len(urn) + 1:].split("."))
    if low == _ENTERPRISE:
        return (_ENTERPRISE,)
    if low.startswith(_ENTERPRISE + ":"):
        return (_ENTERPRISE, *low[len(_ENTERPRISE) + 1:].split("."))
    if low.startswith("urn:"):
        return (low,)
    return tuple(low.split("."))


def _patch_path(path: str) -> tuple[tuple[str, ...], str | None, tuple[str, ...]]:
    """`emails[type eq "work"].value` -> (('emails', 'value'), 'type eq "work"', ('emails',))."""
    match = _PATCH_PATH.match(path.strip())
    if not match:
        return _key_path(path), None, ()
    base = _key_path(match.group("attr"))
    sub = (match.group("sub").lower(),) if match.group("sub") else ()
    return base + sub, match.group("filter"), base


def _comparisons(text: str) -> Iterator[tuple[tuple[str, ...], str, re.Match[str]]]:
    """Every `attr eq "value"` (and ne) in a filter: (attribute path, decoded value, match)."""
    for match in _COMPARISON.finditer(text):
        if match.group("op").lower() not in ("eq", "ne"):
            continue
        try:
            value = json.loads(match.group("lit"))
        except ValueError:
            continue
        if not isinstance(value, str):
            continue
        attr = match.group("attr")
        # Inside a value filter (emails[value eq "x"]) the attribute is relative to the outer one.
        before = text[: match.start()]
        outer = re.search(r"([A-Za-z_$][\w$:.\-]*)\[[^\]]*$", before)
        path = _patch_path(attr)[0]
        if outer:
            path = _key_path(outer.group(1)) + path
        yield path, value, match


def _split_target(target: str) -> tuple[str, str]:
    if target.startswith(("http://", "https://")):
        parts = urlsplit(target)
        return parts.path or "/", parts.query
    path, _, query = target.partition("?")
    return path or "/", query


def _collection(rel_path: str) -> tuple[str, str | None]:
    """`/Users/abc` -> ('users', 'abc'); `/` -> ('', None)."""
    segments = [s for s in rel_path.split("/") if s]
    if not segments:
        return "", None
    return segments[0].lower(), (unquote(segments[1]) if len(segments) > 1 else None)


def _kind(collection: str) -> str:
    return {"users": "user", "me": "user", "groups": "group"}.get(collection, "resource")


def _resource_kind(resource: dict[str, Any], fallback: str) -> str:
    meta = resource.get("meta")
    declared = str(meta.get("resourceType", "")).lower() if isinstance(meta, dict) else ""
    schemas = [str(s).lower() for s in resource.get("schemas") or [] if isinstance(s, str)]
    if declared == "user" or _CORE_USER in schemas:
        return "user"
    if declared == "group" or _CORE_GROUP in schemas:
        return "group"
    return fallback


def _get(mapping: dict[str, Any], name: str) -> Any:
    """A key, case-insensitively (SCIM attribute names are case-insensitive)."""
    for key, value in mapping.items():
        if isinstance(key, str) and key.lower() == name.lower():
            return value
    return None


def _masked(original: Any, redacted: Any, pointer: tuple = ()) -> Iterator[tuple[tuple, Any, Any]]:
    """Where `Redactor.data` changed a value: (pointer, original, redacted)."""
    if isinstance(original, dict) and isinstance(redacted, dict):
        for key, value in original.items():
            yield from _masked(value, redacted.get(key), (*pointer, key))
    elif isinstance(original, list) and isinstance(redacted, list):
        for index, (value, other) in enumerate(zip(original, redacted, strict=False)):
            yield from _masked(value, other, (*pointer, index))
    elif original != redacted:
        yield pointer, original, redacted


# --------------------------------------------------------------------------- pass 1: who is who


def _field(kind: str, path: tuple[str, ...], value: str) -> tuple[str, str] | None:
    """(slot, template) when `value` at attribute `path` of a `kind` resource is personal data."""
    entry = (_USER_FIELDS if kind == "user" else _GROUP_FIELDS).get(path)
    if entry is not None and entry[0] == "externalId" and kind == "user" and _OKTA_ID.match(value):
        return "externalId", "${@.oktaId}"  # Okta sends its own user id: keep the shape
    return entry


@dataclass(eq=False)
class _Person:
    """A generated person or group (one `vars:` entry) and the original values it stands for."""

    var: str
    kind: str  # user | group
    slots: dict[str, str] = field(default_factory=dict)
    used: bool = False


@dataclass(eq=False)
class _Entity:
    """One resource on the server (or one the traffic names), with its generated persons."""

    kind: str  # user | group | resource
    name: str  # user_1
    persons: list[_Person]
    id: str | None = None


@dataclass
class _Value:
    template: str
    person: _Person | None = None


@dataclass
class _Generated:
    """A value the server generated (id, ETag): captured where it first came back."""

    value: str
    step: int
    expression: str
    entity: _Entity | None
    name: str | None = None  # set when a later step uses it


class _Analysis:
    """Pass 1: walks every exchange in order, assigns resources, persons, captures and secrets."""

    def __init__(self, keep_values: bool, redactor: Redactor) -> None:
        self.keep_values = keep_values
        self.redactor = redactor
        self.entities: list[_Entity] = []
        self.counters: Counter[str] = Counter()
        self.by_id: dict[str, _Entity] = {}
        self.by_key: dict[str, dict[str, _Entity]] = {"user": {}, "group": {}, "resource": {}}
        self.values: dict[str, _Value] = {}
        self.secret_at: dict[tuple[int, tuple], str] = {}  # (exchange, pointer) -> key in `values`
        self.generated: dict[str, _Generated] = {}
        self.external_ids: set[str] = set()
        self.secrets: set[str] = set()

    # -- entities and persons

    def entity(self, kind: str, resource_id: str | None = None) -> _Entity:
        self.counters[kind] += 1
        name = f"{kind}_{self.counters[kind]}"
        entity = _Entity(kind, name, [_Person(name, "user" if kind == "user" else "group")], resource_id)
        self.entities.append(entity)
        if resource_id is not None:
            self.by_id[resource_id] = entity
        return entity

    def assign(self, entity: _Entity, slot: str, template: str, original: str) -> None:
        """Give `original` a generated stand-in from one of `entity`'s persons."""
        if slot in _IDENTIFYING.get(entity.kind, ("displayName", "externalId")):
            self.by_key[entity.kind].setdefault(original, entity)
        if original in self.values or original == "" or (self.keep_values and slot != "password"):
            return
        person = next((p for p in entity.persons if slot not in p.slots), None)
        if person is None:
            kind = "user" if entity.kind == "user" else "group"
            person = _Person(f"{entity.name}_v{len(entity.persons) + 1}", kind)
            entity.persons.append(person)
        person.slots[slot] = original
        self.values[original] = _Value(template.replace("@", person.var), person)

    def classify(self, path: tuple[str, ...], value: str, entity: _Entity | None, kind: str) -> None:
        """`value` at attribute `path` of a `kind` resource: personal data to stand in for?"""
        reference = _REFERENCES.get(path)
        if reference is not None:
            self.floating(reference[0], reference[1], value)
            return
        entry = _field(kind, path, value)
        if entry is None:
            return
        if entity is None or entity.kind != kind:
            self.floating(kind, path, value)
        else:
            self.assign(entity, *entry, value)

    def floating(self, kind: str, path: tuple[str, ...], value: str) -> None:
        """A personal value seen apart from its resource (a filter, a member's display name)."""
        if value in self.values or (self.keep_values and value in self.by_key[kind]):
            return
        entry = _field(kind, path, value)
        if entry is None:
            return
        owner = self.by_key[kind].get(value) or self.entity(kind)
        self.assign(owner, *entry, value)

    def walk(self, value: Any, prefix: tuple[str, ...], entity: _Entity | None, kind: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                self.walk(item, prefix + _key_path(str(key)), entity, kind)
        elif isinstance(value, list):
            for item in value:
                self.walk(item, prefix, entity, kind)
        elif isinstance(value, str):
            self.classify(prefix, value, entity, kind)

    def filter_values(self, text: str, kind: str, context: tuple[str, ...] = ()) -> None:
        for path, value, _ in _comparisons(text):
            self.classify(context + path, value, None, kind)

    # -- one exchange

    def request(self, index: int, exchange: Observed, rel_path: str, query: list[tuple[str, str]]) -> _Entity | None:
        """Assign what the request carries; return the entity it creates (a POST), if any."""
        collection, resource_id = _collection(rel_path)
        kind = _kind(collection)
        discovery = collection in _DISCOVERY
        search = (resource_id or collection).lower() == ".search"
        if search:
            resource_id = None
        for name, value in query:
            if name.lower() == "filter" and not discovery:
                self.filter_values(value, kind)
        if discovery:
            return None
        entity = self.known(kind, resource_id)
        body = _json(exchange.request_body)
        if not isinstance(body, dict | list):
            return None
        creates = None
        if entity is None and exchange.method == "POST" and isinstance(body, dict) and not search \
                and collection not in ("", "bulk"):
            key = _get(body, "userName" if kind == "user" else "displayName")
            entity = self.by_key[kind].get(key) if isinstance(key, str) else None
            if entity is None or entity.id is not None:
                entity = self.entity(kind)
            creates = entity
        self.secrets_in(index, body, entity)
        if not isinstance(body, dict):
            return creates
        operations = _get(body, "Operations")
        if collection == "bulk" and isinstance(operations, list):
            # RFC 7644 §3.7: each operation's data is a resource of the collection its path names.
            for operation in operations:
                path = _get(operation, "path") if isinstance(operation, dict) else None
                data = _get(operation, "data") if isinstance(operation, dict) else None
                if isinstance(path, str) and isinstance(data, dict):
                    bulk_kind = _kind(_collection(path)[0])
                    self.walk(data, (), self.entity(bulk_kind), bulk_kind)
        elif search:
            search_filter = _get(body, "filter")
            if isinstance(search_filter, str):
                self.filter_values(search_filter, kind)
        elif exchange.method == "PATCH" and isinstance(operations, list):
            for operation in operations:
                if not isinstance(operation, dict):
                    continue
                path = _get(operation, "path")
                value = _get(operation, "value")
                if isinstance(path, str) and path.strip():
                    attr, value_filter, base = _patch_path(path)
                    if value_filter:
                        self.filter_values(value_filter, kind, base)
                    self.walk(value, attr, entity, kind)
                else:
                    self.walk(value, (), entity, kind)
        else:
            self.walk(body, (), entity, kind)
        return creates

    def looked_up(self, resource: dict[str, Any], kind: str) -> _Entity | None:
        """The entity a filter named by one of this resource's identifying values, if it has no id yet."""
        names = ("userName", "externalId") if kind == "user" else ("displayName", "externalId")
        for name in names:
            value = _get(resource, name)
            entity = self.by_key[kind].get(value) if isinstance(value, str) else None
            if entity is not None and entity.id is None:
                return entity
        return None

    def known(self, kind: str, resource_id: str | None) -> _Entity | None:
        """The entity a request path names (`/Users/<id>`); an id never returned before is external."""
        if resource_id is None:
            return None
        entity = self.by_id.get(resource_id)
        if entity is None:
            if resource_id not in self.generated:
                self.external_ids.add(resource_id)  # the IdP knew it before the recording began
            entity = self.entity(kind, resource_id)
        return entity

    def secrets_in(self, index: int, body: Any, entity: _Entity | None) -> None:
        """Passwords and tokens in a request body: each gets a generated password in its place."""
        for pointer, original, _ in _masked(body, self.redactor.data(body)):
            owner = entity if entity is not None and entity.kind == "user" else None
            if owner is None:
                owner = self.entity("user")
            key = original if isinstance(original, str) else f"\0{index}:{pointer}"
            if isinstance(original, str):
                self.secrets.add(original)
            if key not in self.values:
                self.assign(owner, "password", _PASSWORD[1], key)
            self.secret_at[(index, pointer)] = key

    def response(self, index: int, exchange: Observed, rel_path: str, creates: _Entity | None) -> None:
        collection, _ = _collection(rel_path)
        etag = exchange.response_header("etag")
        if etag and etag not in self.generated:
            self.generated[etag] = _Generated(etag, index, "headers.etag", None)
        if collection in _DISCOVERY:
            return
        body = _json(exchange.response_body)
        if not isinstance(body, dict):
            return
        kind = _kind(collection)
        resources = _get(body, "Resources")
        if isinstance(resources, list):
            for position, item in enumerate(resources):
                if isinstance(item, dict):
                    self.resource(index, item, f"body.Resources[{position}].id", kind, None)
        elif isinstance(body.get("id"), str):
            self.resource(index, body, "body.id", kind, creates)

    def resource(self, index: int, resource: dict[str, Any], expression: str, fallback: str,
                 creates: _Entity | None) -> None:
        kind = _resource_kind(resource, fallback)
        resource_id = resource.get("id")
        entity = None
        if isinstance(resource_id, str) and resource_id:
            entity = self.by_id.get(resource_id)
            if entity is None:
                if creates is None or creates.id is not None or creates.kind != kind:
                    creates = self.looked_up(resource, kind)
                if creates is not None:
                    entity = creates
                    entity.id = resource_id
                    self.by_id[resource_id] = entity
                else:
                    entity = self.entity(kind, resource_id)
            if resource_id not in self.generated and resource_id not in self.external_ids:
                self.generated[resource_id] = _Generated(resource_id, index, expression, entity)
        self.walk(resource, (), entity, kind)


# --------------------------------------------------------------------------- pass 2: the steps


class _Writer:
    """Pass 2: turns each exchange into a step, substituting what pass 1 found."""

    def __init__(self, analysis: _Analysis) -> None:
        self.a = analysis
        self.etags = 0
        keys: list[tuple[str, bool]] = []  # (value, needs word boundaries)
        for value in analysis.values:
            if "\0" in value:
                continue
            secret = value in analysis.secrets
            if (secret and len(value) >= 4) or len(value) >= _SUBSTRING_MIN:
                keys.append((value, not secret))
        for value in analysis.generated:
            if len(value) >= _GENERATED_SUBSTRING_MIN:
                keys.append((value, True))
        for value in analysis.secrets:
            if len(value) >= 4 and value not in analysis.values:
                keys.append((value, False))
        keys.sort(key=lambda item: -len(item[0]))
        parts = [(rf"(?<![A-Za-z0-9]){re.escape(v)}(?![A-Za-z0-9])" if bounded else re.escape(v))
                 for v, bounded in keys]
        self.pattern = re.compile("|".join(parts)) if parts else None

    # -- values

    def generated(self, value: str, step: int) -> str | None:
        """`${name}` for a generated value captured before `step`, else None."""
        found = self.a.generated.get(value)
        if found is None or found.step >= step:
            return None
        if found.name is None:
            if found.entity is not None:
                found.name = f"{found.entity.name}_id"
            else:
                self.etags += 1
                found.name = f"etag_{self.etags}"
        return "${" + found.name + "}"

    def personal(self, value: str) -> str | None:
        found = self.a.values.get(value)
        if found is None:
            return None
        if found.person is not None:
            found.person.used = True
        return found.template

    def replacement(self, value: str, step: int, *, id_context: bool = True) -> tuple[str | None, bool]:
        """(template, blocked): blocked means a generated value that is not captured yet.

        A short generated value ("7") is an id only where ids stand (`id_context`: path
        segments, `id` and `value` keys, ETag headers), not in every string that happens to be "7".
        """
        if value in self.a.generated and value not in self.a.external_ids and (
                id_context or len(value) >= _GENERATED_SUBSTRING_MIN):
            template = self.generated(value, step)
            return template, template is None
        if value in self.a.secrets and value not in self.a.values:
            return MASK, False
        return self.personal(value), False

    def text(self, value: str, step: int, *, expect: bool, id_context: bool = False,
             spans: list[tuple[int, int, str]] | None = None) -> Any:
        """`value` with every known value replaced by its template and the rest escaped.

        In an expectation, a string that still holds a server-generated value that is not
        captured yet, or a secret, is dropped (`_DROP`): it would differ on the next run.
        """
        whole, blocked = self.replacement(value, step, id_context=id_context)
        if expect and (blocked or whole == MASK):
            return _DROP
        if whole is not None:
            return whole
        if blocked:
            return _escape(value)
        pieces: list[tuple[int, int, str | None]] = list(spans or [])
        if self.pattern is not None:
            for match in self.pattern.finditer(value):
                if any(start < match.end() and match.start() < end for start, end, _ in pieces):
                    continue
                template, blocked = self.replacement(match.group(0), step, id_context=False)
                if expect and (blocked or template == MASK):
                    return _DROP
                if template is not None:
                    pieces.append((match.start(), match.end(), template))
        pieces.sort()
        out, position = [], 0
        for start, end, template in pieces:
            literal = _escape(value[position:start])
            if literal.endswith("$") and template is not None:
                template = _escape(value[start:end])  # "$" + "${" would read as the escape "$${"
            out.append(literal + (template or ""))
            position = end
        out.append(_escape(value[position:]))
        return "".join(out)

    def filter_text(self, value: str, step: int, *, expect: bool) -> Any:
        """A filter (or PATCH path): quoted `eq` values are replaced inside their quotes."""
        spans: list[tuple[int, int, str]] = []
        for path, literal_value, match in _comparisons(value):
            is_id = bool(path) and path[-1] in ("id", "value")
            template, _ = self.replacement(literal_value, step, id_context=is_id)
            if template is not None and template != MASK:
                start, end = match.span("lit")
                spans.append((start + 1, end - 1, template))
        return self.text(value, step, expect=expect, spans=spans)

    def data(self, value: Any, step: int, *, expect: bool, secrets: dict[tuple, str] | None = None,
             pointer: tuple = ()) -> Any:
        """A JSON value with every string templated (request bodies: expect=False)."""
        if secrets and pointer in secrets:
            return self.personal(secrets[pointer])
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                rendered = self.data(item, step, expect=expect, secrets=secrets, pointer=(*pointer, key))
                if rendered is _DROP:
                    continue
                out[_escape(str(key))] = rendered
            return out
        if isinstance(value, list):
            items = [self.data(item, step, expect=expect, secrets=secrets, pointer=(*pointer, i))
                     for i, item in enumerate(value)]
            kept = [item for item in items if item is not _DROP]
            return _DROP if expect and value and not kept else kept
        if isinstance(value, str):
            key = next((str(k).lower() for k in reversed(pointer) if isinstance(k, str)), "")
            if key in ("path", "filter") and not expect:
                return self.filter_text(value, step, expect=False)
            return self.text(value, step, expect=expect, id_context=key in ("id", "value"))
        return value


def _escape(text: str) -> str:
    """Literal text for a templated value: `${` must not start an expression."""
    return text.replace("${", "$${")


# --------------------------------------------------------------------------- expectations


_VOLATILE_META = {"created", "lastmodified", "version", "location"}


def _expected_body(writer: _Writer, body: dict[str, Any], step: int, stable_list: bool) -> Any:
    """The `json` check: the answer's values that a replay against the same server must repeat."""
    schemas = [str(s).lower() for s in body.get("schemas") or [] if isinstance(s, str)]
    if _ERROR in schemas:
        # Error details are free text (they may quote personal data): status and scimType only.
        body = {k: v for k, v in body.items() if k.lower() in ("schemas", "status", "scimtype")}
    elif _LIST in schemas or isinstance(_get(body, "Resources"), list):
        if not stable_list:
            return None
    cleaned = _stable(body, writer.a.redactor)
    expected = writer.data(cleaned, step, expect=True)
    if expected is _DROP or not expected:
        return None
    if len(json.dumps(expected)) > _MAX_JSON_CHARS:
        expected = {k: v for k, v in expected.items() if not isinstance(v, dict | list) or k == "schemas"}
    return expected or None


def _stable(value: Any, redactor: Redactor) -> Any:
    """`value` without what changes from run to run or must not be written (meta times, $ref, secrets)."""
    if isinstance(value, dict):
        redacted = redactor.data(value)
        out = {}
        for key, item in value.items():
            low = str(key).lower()
            if low == "$ref" or (redacted.get(key) == MASK and item != MASK):
                continue
            if low == "meta" and isinstance(item, dict):
                item = {k: v for k, v in item.items() if str(k).lower() not in _VOLATILE_META}
                if not item:
                    continue
            out[key] = _stable(item, redactor)
        return out
    if isinstance(value, list):
        return [_stable(item, redactor) for item in value]
    return value


def _schema_name(body: Any, collection: str) -> str | None:
    """The shipped RFC schema the answer is a valid instance of, if it is one of a known kind."""
    if not isinstance(body, dict):
        return None
    schemas = [str(s).lower() for s in body.get("schemas") or [] if isinstance(s, str)]
    candidates = []
    if _LIST in schemas:
        candidates.append("ListResponse")
    elif _ERROR in schemas:
        candidates.append("Error")
    elif _CORE_USER in schemas:
        candidates.append("User")
    elif _CORE_GROUP in schemas:
        candidates.append("Group")
    elif any(s.endswith(":serviceproviderconfig") for s in schemas):
        candidates.append("ServiceProviderConfig")
    elif any(s.endswith(":resourcetype") for s in schemas):
        candidates.append("ResourceType")
    elif any(s.endswith(":schema") for s in schemas):
        candidates.append("Schema")
    for name in candidates:
        if name in rfc.schema_names() and not rfc.validate(name, body):
            return name
    return None


# --------------------------------------------------------------------------- the scenario


@dataclass
class _Prepared:
    index: int
    exchange: Observed
    rel_path: str
    raw_flags: list[str]
    query: list[tuple[str, str]]
    dropped_query: list[str]


def build_scenario(
    exchanges: list[Observed],
    *,
    base_url: str,
    scenario_id: str,
    idp: str = "recorded",
    keep_values: bool = False,
    title: str | None = None,
    header: list[str] | None = None,
) -> Recording:
    """The scenario text for `exchanges` (in the order they arrived) sent to `base_url`.

    Raises RecordingError when no exchange can be replayed, or when a secret value seen in the
    traffic would end up in the text.
    """
    base = urlsplit(base_url)
    base_path = base.path.rstrip("/")
    base_query = {piece for piece in base.query.split("&") if piece}
    redactor = Redactor()
    secrets = _header_secrets(exchanges)
    for secret in secrets:
        redactor.add_secret(secret)

    prepared: list[_Prepared] = []
    left_out: list[str] = []
    for number, exchange in enumerate(exchanges, 1):
        path, raw_query = _split_target(exchange.target)
        shown = f"#{number} {exchange.method} {redactor.text(path)}"
        if exchange.method not in _METHODS:
            left_out.append(f"{shown}: the harness sends only {', '.join(_METHODS)}")
            continue
        if exchange.status == 429:
            left_out.append(f"{shown}: 429 Too Many Requests (the harness retries a 429 by itself)")
            continue
        if base_path and not (path == base_path or path.startswith(base_path + "/")):
            left_out.append(f"{shown}: outside the target's base path {base_path}")
            continue
        rel_path = path[len(base_path):] or "/"
        flags, query, dropped = [], [], []
        for piece in (p for p in raw_query.split("&") if p):
            if piece in base_query:
                continue  # the target's own query (?aadOptscim062020) goes on every request anyway
            if "=" not in piece:
                flags.append(piece)
                continue
            name, value = next(iter(parse_qsl(piece, keep_blank_values=True)), (piece, ""))
            if redactor.data({name: "x"})[name] == MASK or redactor.text(value) != value:
                dropped.append(name)
                secrets.add(value)
                redactor.add_secret(value)
                continue
            query.append((name, value))
        prepared.append(_Prepared(len(prepared), exchange, rel_path, flags, query, dropped))
    if not prepared:
        raise RecordingError("no request can be replayed: " + ("; ".join(left_out) or "nothing was recorded"))

    analysis = _Analysis(keep_values, redactor)
    for item in prepared:
        creates = analysis.request(item.index, item.exchange, item.rel_path, item.query)
        analysis.response(item.index, item.exchange, item.rel_path, creates)
    analysis.secrets |= secrets
    for secret in analysis.secrets:
        redactor.add_secret(secret)

    writer = _Writer(analysis)
    notes: list[str] = []
    steps = [_step(writer, item, notes) for item in prepared]
    for found in analysis.generated.values():
        if found.name is not None:
            steps[found.step].setdefault("capture", {})[found.name] = found.expression
    for step in steps:  # keys in reading order: capture after expect
        if "capture" in step:
            step["capture"] = step.pop("capture")
    if analysis.external_ids:
        notes.append(f"{len(analysis.external_ids)} id(s) were used before the recording saw the server "
                     "return them; they are kept as recorded, so those steps replay only where the "
                     "resources still exist")

    persons = [p for e in analysis.entities for p in e.persons if p.used]
    document: dict[str, Any] = {
        "id": scenario_id,
        "title": title or _title(prepared),
        "description": _description(len(exchanges), len(prepared), keep_values, left_out, notes),
        "idps": [idp],
        "tags": ["recording"],
        "requires": _requires(prepared),
        "level": "should",
    }
    if not document["requires"]:
        del document["requires"]
    if persons:
        document["vars"] = {p.var: "${fake.user()}" if p.kind == "user" else "${fake.group()}" for p in persons}
    document["steps"] = steps
    text = "".join(f"# {redactor.text(line)}\n" for line in header or [])
    text += yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
                      default_flow_style=False)
    if yaml.safe_load(text) != document:  # pragma: no cover - a PyYAML quoting surprise
        raise RecordingError("the scenario does not read back as written (YAML quoting)")
    for secret in analysis.secrets:
        if len(secret) >= 4 and secret in text:
            raise RecordingError("a secret value would be written to the scenario; nothing was written")
    if redactor.text(text) != text:
        raise RecordingError("something that looks like a credential would be written; nothing was written")
    return Recording(text, len(steps), left_out, notes)


class _Dumper(yaml.SafeDumper):
    """Safe YAML, with multi-line strings (the description) as readable `|` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value.rstrip("\n") and not any(line != line.rstrip() for line in value.split("\n")):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_str(value)


_Dumper.add_representer(str, _represent_str)


def _header_secrets(exchanges: list[Observed]) -> set[str]:
    """Credential values in request headers: never written, and scanned for in the result."""
    found: set[str] = set()
    for exchange in exchanges:
        for name, value in exchange.request_headers:
            if name.lower() not in SENSITIVE_HEADERS:
                continue
            found.add(value)
            found.add(value.split(" ", 1)[-1].strip())
            if name.lower() == "cookie":
                for cookie in value.split(";"):
                    found.add(cookie.partition("=")[2].strip())
    return {s for s in found if len(s) >= 4}


def _step(writer: _Writer, item: _Prepared, notes: list[str]) -> dict[str, Any]:
    exchange, step = item.exchange, item.index
    segments = []
    for segment in item.rel_path.split("/"):
        decoded = unquote(segment)
        template, _ = writer.replacement(decoded, step, id_context=True) if decoded else (None, False)
        segments.append(template if template is not None and template != MASK else _escape(segment))
    path = "/".join(segments)
    if item.raw_flags:
        path += "?" + "&".join(_escape(f) for f in item.raw_flags)
    request: dict[str, Any] = {"method": exchange.method, "path": path}
    query: dict[str, Any] = {}
    for name, value in item.query:
        if name in query:
            notes.append(f"step {step + 1}: query parameter {name!r} was sent more than once; only the last is kept")
        if name.lower() == "filter":
            query[_escape(name)] = writer.filter_text(value, step, expect=False)
        else:
            query[_escape(name)] = writer.text(value, step, expect=False)
    if query:
        request["query"] = query
    if item.dropped_query:
        names = ", ".join(repr(name) for name in item.dropped_query)
        notes.append(f"step {step + 1}: query parameter(s) {names} left out: they carry a secret")
    headers: dict[str, str] = {}
    for name, value in exchange.request_headers:
        low = name.lower()
        if low in _NOT_REPLAYED or low in SENSITIVE_HEADERS or name.startswith(":"):
            continue
        if writer.a.redactor.text(value) != value:
            continue  # a credential in a header of another name
        rendered = writer.text(value, step, expect=False, id_context=low in ("if-match", "if-none-match"))
        headers[name] = f"{headers[name]}, {rendered}" if name in headers else rendered
    if headers:
        request["headers"] = headers
    if exchange.request_header("authorization") is None:
        request["auth"] = "none"  # sent without credentials: replayed without them
    body = _json(exchange.request_body)
    body_note = ""
    if body is _NOT_JSON:
        body_note = " (its non-JSON body is left out)"
        notes.append(f"step {step + 1}: the request body is not JSON; the harness sends JSON only, so it is left out")
    elif exchange.request_body.strip():
        secrets = {pointer: key for (index, pointer), key in writer.a.secret_at.items() if index == step}
        request["body"] = writer.data(body, step, expect=False, secrets=secrets)
    expect = _expect(writer, item)
    name = f"{exchange.method} {_shown_path(path, query)}{_patch_summary(request.get('body'))} → {exchange.status}"
    return {"name": name + body_note, "request": request, "expect": expect}


def _shown_path(path: str, query: dict[str, Any]) -> str:
    if not query:
        return path
    return f"{path}?{'&'.join(query)}"


def _patch_summary(body: Any) -> str:
    operations = _get(body, "Operations") if isinstance(body, dict) else None
    if not isinstance(operations, list):
        return ""
    shown = []
    for operation in operations:
        if isinstance(operation, dict):
            op, path = _get(operation, "op"), _get(operation, "path")
            shown.append(f"{op} {path}" if path else f"{op} (no path)")
    summary = ", ".join(shown)
    return f" ({summary[:100]}{'…' if len(summary) > 100 else ''})"


def _expect(writer: _Writer, item: _Prepared) -> dict[str, Any]:
    exchange, step = item.exchange, item.index
    expect: dict[str, Any] = {"status": exchange.status}
    headers: dict[str, Any] = {}
    media = (exchange.response_header("content-type") or "").split(";")[0].strip()
    raw = exchange.response_body
    if media and raw.strip():
        headers["content-type"] = media
    if exchange.response_header("location") and exchange.method == "POST":
        headers["location"] = True
    if exchange.response_header("etag"):
        headers["etag"] = True
    if headers:
        expect["headers"] = headers
    if not exchange.response_complete:
        return expect
    if not raw.strip():
        if exchange.method != "HEAD":
            expect["empty_body"] = True
        return expect
    body = _json(raw)
    collection, _ = _collection(item.rel_path)
    schema = _schema_name(body, collection)
    if schema:
        expect["schema"] = schema
    if isinstance(body, dict):
        expected = _expected_body(writer, body, step, _stable_list(writer, body, step, item))
        if expected:
            expect["json"] = expected
    return expect


def _stable_list(writer: _Writer, body: dict[str, Any], step: int, item: _Prepared) -> bool:
    """Whether a list answer depends only on what this recording did (else only its schema is checked)."""
    collection, _ = _collection(item.rel_path)
    if collection in ("schemas", "resourcetypes"):
        return True
    if not any(name.lower() == "filter" for name, _ in item.query):
        return False  # the whole collection: whatever else is on the server shows up
    resources = _get(body, "Resources")
    for resource in resources if isinstance(resources, list) else []:
        resource_id = resource.get("id") if isinstance(resource, dict) else None
        found = writer.a.generated.get(resource_id) if isinstance(resource_id, str) else None
        if found is None or found.step >= step:
            return False  # a resource this recording did not create before this step
    return True


def _requires(prepared: list[_Prepared]) -> list[str]:
    """Capabilities the traffic used (only those a target has unless its profile says otherwise)."""
    needed: list[str] = []

    def need(name: str) -> None:
        if name not in needed:
            needed.append(name)

    for item in prepared:
        collection, resource_id = _collection(item.rel_path)
        method = item.exchange.method
        if collection == "users":
            need("users")
        if collection == "groups":
            need("groups")
        if method == "PATCH":
            need("patch")
        if any(name.lower() == "filter" for name, _ in item.query):
            need("filter")
        if method == "DELETE" and resource_id and collection in ("users", "groups"):
            need("delete_users" if collection == "users" else "delete_groups")
        if _ENTERPRISE in item.exchange.request_body.decode("utf-8", "replace").lower():
            need("enterprise_user")
    return needed


def _title(prepared: list[_Prepared]) -> str:
    methods = Counter(item.exchange.method for item in prepared)
    shown = ", ".join(f"{count} {method}" for method, count in methods.most_common())
    return f"Recorded traffic replayed request by request ({shown})"


def _description(seen: int, kept: int, keep_values: bool, left_out: list[str], notes: list[str]) -> str:
    lines = [
        f"{kept} of {seen} recorded request(s), replayed in the order they arrived; each step expects "
        "the status (and the stable parts of the answer) the target gave then.",
        "Ids and ETags the server generated are captured where they first came back and referenced after.",
        "Personal values were kept as recorded (--keep-values)." if keep_values else
        "Personal data (userName, emails, names, displayName, externalId, phone numbers, addresses) is "
        "replaced by generated values.",
        "Authorization, cookies, passwords and tokens were not written; the harness sends its own Authorization.",
    ]
    lines += [f"Left out: {line}" for line in left_out]
    lines += [f"Note: {line}" for line in notes]
    return "\n".join(lines) + "\n"
