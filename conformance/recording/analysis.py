"""Pass 1 of the compiler: who is who in the traffic.

Walks every replayable exchange in order and decides which resource each value belongs to:
resources on the server (`Entity`), the generated persons that stand in for their personal data
(`Person`, one `vars:` entry each), the values the server generated (ids, ETags: `GeneratedValue`,
captured where they first came back) and the secrets seen (never written).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from conformance.engine.redact import Redactor
from conformance.recording.observed import Observed
from conformance.recording.traffic import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE_USER,
    attribute,
    collection_of,
    comparisons,
    json_body,
    key_path,
    patch_path,
)

__all__ = ["Analysis", "Entity", "GeneratedValue", "Person", "StandIn"]

_DISCOVERY = frozenset({"serviceproviderconfig", "serviceproviderconfigs", "resourcetypes", "schemas"})
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
    (ENTERPRISE_USER, "manager", "displayname"): ("user", ("displayname",)),
}
_PASSWORD = ("password", "${@.password}")
# Slots that tell which resource a lookup was about: a lookup by one of them, then the create or
# the answer that carries it, are the same resource (and the same generated person).
_IDENTIFYING = {"user": ("login", "externalId")}


def _kind(collection: str) -> str:
    """The kind of resource a collection holds: user, group or (anything else) resource."""
    return {"users": "user", "me": "user", "groups": "group"}.get(collection, "resource")


def _resource_kind(resource: dict[str, Any], fallback: str) -> str:
    """The kind a resource says it is (meta.resourceType or its core schema), else `fallback`."""
    meta = resource.get("meta")
    declared = str(meta.get("resourceType", "")).lower() if isinstance(meta, dict) else ""
    schemas = [str(s).lower() for s in resource.get("schemas") or [] if isinstance(s, str)]
    if declared == "user" or CORE_USER in schemas:
        return "user"
    if declared == "group" or CORE_GROUP in schemas:
        return "group"
    return fallback


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


def _field(kind: str, path: tuple[str, ...], value: str) -> tuple[str, str] | None:
    """(slot, template) when `value` at attribute `path` of a `kind` resource is personal data."""
    entry = (_USER_FIELDS if kind == "user" else _GROUP_FIELDS).get(path)
    if entry is not None and entry[0] == "externalId" and kind == "user" and _OKTA_ID.match(value):
        return "externalId", "${@.oktaId}"  # Okta sends its own user id: keep the shape
    return entry


@dataclass(eq=False)
class Person:
    """A generated person or group (one `vars:` entry) and the original values it stands for."""

    var: str
    kind: str  # user | group
    slots: dict[str, str] = field(default_factory=dict)
    used: bool = False


@dataclass(eq=False)
class Entity:
    """One resource on the server (or one the traffic names), with its generated persons."""

    kind: str  # user | group | resource
    name: str  # user_1
    persons: list[Person]
    id: str | None = None


@dataclass
class StandIn:
    """What an original personal value or secret is written as, and the generated person it comes from."""

    template: str
    person: Person | None = None


@dataclass
class GeneratedValue:
    """A value the server generated (id, ETag): captured where it first came back."""

    value: str
    step: int
    expression: str
    entity: Entity | None
    name: str | None = None  # set when a later step uses it


class Analysis:
    """Pass 1: walks every exchange in order, assigns resources, persons, captures and secrets."""

    def __init__(self, keep_values: bool, redactor: Redactor) -> None:
        self.keep_values = keep_values
        self.redactor = redactor
        self.entities: list[Entity] = []
        self.counters: Counter[str] = Counter()
        self.by_id: dict[str, Entity] = {}
        self.by_key: dict[str, dict[str, Entity]] = {"user": {}, "group": {}, "resource": {}}
        self.values: dict[str, StandIn] = {}
        self.secret_at: dict[tuple[int, tuple], str] = {}  # (exchange, pointer) -> key in `values`
        self.generated: dict[str, GeneratedValue] = {}
        self.external_ids: set[str] = set()
        self.secrets: set[str] = set()

    # -- entities and persons

    def entity(self, kind: str, resource_id: str | None = None) -> Entity:
        """A new resource of `kind` (user_1, group_2, ...) with its first generated person."""
        self.counters[kind] += 1
        name = f"{kind}_{self.counters[kind]}"
        entity = Entity(kind, name, [Person(name, "user" if kind == "user" else "group")], resource_id)
        self.entities.append(entity)
        if resource_id is not None:
            self.by_id[resource_id] = entity
        return entity

    def assign(self, entity: Entity, slot: str, template: str, original: str) -> None:
        """Give `original` a generated stand-in from one of `entity`'s persons."""
        if slot in _IDENTIFYING.get(entity.kind, ("displayName", "externalId")):
            self.by_key[entity.kind].setdefault(original, entity)
        if original in self.values or original == "" or (self.keep_values and slot != "password"):
            return
        person = next((p for p in entity.persons if slot not in p.slots), None)
        if person is None:
            kind = "user" if entity.kind == "user" else "group"
            person = Person(f"{entity.name}_v{len(entity.persons) + 1}", kind)
            entity.persons.append(person)
        person.slots[slot] = original
        self.values[original] = StandIn(template.replace("@", person.var), person)

    def classify(self, path: tuple[str, ...], value: str, entity: Entity | None, kind: str) -> None:
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

    def walk(self, value: Any, prefix: tuple[str, ...], entity: Entity | None, kind: str) -> None:
        """Classify every string in a body or PATCH value, at its attribute path."""
        if isinstance(value, dict):
            for key, item in value.items():
                self.walk(item, prefix + key_path(str(key)), entity, kind)
        elif isinstance(value, list):
            for item in value:
                self.walk(item, prefix, entity, kind)
        elif isinstance(value, str):
            self.classify(prefix, value, entity, kind)

    def filter_values(self, text: str, kind: str, context: tuple[str, ...] = ()) -> None:
        """Classify the values a filter compares attributes with (`userName eq "..."`)."""
        for path, value, _ in comparisons(text):
            self.classify(context + path, value, None, kind)

    # -- one exchange

    def request(self, index: int, exchange: Observed, rel_path: str, query: list[tuple[str, str]]) -> Entity | None:
        """Assign what the request carries; return the entity it creates (a POST), if any."""
        collection, resource_id = collection_of(rel_path)
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
        body = json_body(exchange.request_body)
        if not isinstance(body, dict | list):
            return None
        creates = None
        if entity is None and exchange.method == "POST" and isinstance(body, dict) and not search \
                and collection not in ("", "bulk"):
            key = attribute(body, "userName" if kind == "user" else "displayName")
            entity = self.by_key[kind].get(key) if isinstance(key, str) else None
            if entity is None or entity.id is not None:
                entity = self.entity(kind)
            creates = entity
        self.secrets_in(index, body, entity)
        if not isinstance(body, dict):
            return creates
        operations = attribute(body, "Operations")
        if collection == "bulk" and isinstance(operations, list):
            # RFC 7644 §3.7: each operation's data is a resource of the collection its path names.
            for operation in operations:
                path = attribute(operation, "path") if isinstance(operation, dict) else None
                data = attribute(operation, "data") if isinstance(operation, dict) else None
                if isinstance(path, str) and isinstance(data, dict):
                    bulk_kind = _kind(collection_of(path)[0])
                    self.walk(data, (), self.entity(bulk_kind), bulk_kind)
        elif search:
            search_filter = attribute(body, "filter")
            if isinstance(search_filter, str):
                self.filter_values(search_filter, kind)
        elif exchange.method == "PATCH" and isinstance(operations, list):
            for operation in operations:
                if not isinstance(operation, dict):
                    continue
                path = attribute(operation, "path")
                value = attribute(operation, "value")
                if isinstance(path, str) and path.strip():
                    attr, value_filter, base = patch_path(path)
                    if value_filter:
                        self.filter_values(value_filter, kind, base)
                    self.walk(value, attr, entity, kind)
                else:
                    self.walk(value, (), entity, kind)
        else:
            self.walk(body, (), entity, kind)
        return creates

    def looked_up(self, resource: dict[str, Any], kind: str) -> Entity | None:
        """The entity a filter named by one of this resource's identifying values, if it has no id yet."""
        names = ("userName", "externalId") if kind == "user" else ("displayName", "externalId")
        for name in names:
            value = attribute(resource, name)
            entity = self.by_key[kind].get(value) if isinstance(value, str) else None
            if entity is not None and entity.id is None:
                return entity
        return None

    def known(self, kind: str, resource_id: str | None) -> Entity | None:
        """The entity a request path names (`/Users/<id>`); an id never returned before is external."""
        if resource_id is None:
            return None
        entity = self.by_id.get(resource_id)
        if entity is None:
            if resource_id not in self.generated:
                self.external_ids.add(resource_id)  # the IdP knew it before the recording began
            entity = self.entity(kind, resource_id)
        return entity

    def secrets_in(self, index: int, body: Any, entity: Entity | None) -> None:
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

    def response(self, index: int, exchange: Observed, rel_path: str, creates: Entity | None) -> None:
        """What an answer carries: its ETag and resource ids (captured where first seen), its personal data."""
        collection, _ = collection_of(rel_path)
        etag = exchange.response_header("etag")
        if etag and etag not in self.generated:
            self.generated[etag] = GeneratedValue(etag, index, "headers.etag", None)
        if collection in _DISCOVERY:
            return
        body = json_body(exchange.response_body)
        if not isinstance(body, dict):
            return
        kind = _kind(collection)
        resources = attribute(body, "Resources")
        if isinstance(resources, list):
            for position, item in enumerate(resources):
                if isinstance(item, dict):
                    self.resource(index, item, f"body.Resources[{position}].id", kind, None)
        elif isinstance(body.get("id"), str):
            self.resource(index, body, "body.id", kind, creates)

    def resource(self, index: int, resource: dict[str, Any], expression: str, fallback: str,
                 creates: Entity | None) -> None:
        """One resource in an answer: match it to the entity it is (by id, create or lookup), then walk it."""
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
                self.generated[resource_id] = GeneratedValue(resource_id, index, expression, entity)
        self.walk(resource, (), entity, kind)
