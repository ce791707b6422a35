"""Pass 2 of the compiler, exchange by exchange: one replayable exchange -> one scenario step.

The request as it was sent (method, path, query, headers, JSON body), templated by the
`Templater`, and what to expect: the observed status, a few headers, the RFC schema the answer
is a valid instance of, and the answer's stable values.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from conformance.engine import rfc
from conformance.engine.redact import MASK, Redactor, is_sensitive_header
from conformance.engine.scenario.model import MAX_STEP_NAME
from conformance.recording.observed import HOP_BY_HOP, Replayable
from conformance.recording.templater import DROP, Templater, escape_literal
from conformance.recording.traffic import (
    CORE_GROUP,
    CORE_USER,
    ERROR_RESPONSE,
    LIST_RESPONSE,
    NOT_JSON,
    attribute,
    collection_of,
    json_body,
)

__all__ = ["step_for"]

# Also not replayed: the transport sets Host and Content-Length itself and negotiates its own
# Accept-Encoding (a recorded "br" could come back in an encoding it cannot read).
_NOT_REPLAYED = HOP_BY_HOP | {"host", "content-length", "accept-encoding", "expect"}
_MAX_JSON_CHARS = 6000  # a larger expected body (a /Schemas page) is cut down to its top-level scalars
_VOLATILE_META = {"created", "lastmodified", "version", "location"}


def step_for(templater: Templater, item: Replayable, notes: list[str]) -> dict[str, Any]:
    """The step that replays `item`; what a replay may trip on is added to `notes`."""
    exchange, step = item.exchange, item.index
    path = _path(templater, item)
    request: dict[str, Any] = {"method": exchange.method, "path": path}
    query = _query(templater, item, notes)
    if query:
        request["query"] = query
    if item.dropped_query:
        names = ", ".join(repr(name) for name in item.dropped_query)
        notes.append(f"step {step + 1}: query parameter(s) {names} left out: they carry a secret")
    headers = _headers(templater, item)
    if headers:
        request["headers"] = headers
    if exchange.request_header("authorization") is None:
        request["auth"] = "none"  # sent without credentials: replayed without them
    body = json_body(exchange.request_body)
    body_left_out = body is NOT_JSON
    if body_left_out:
        notes.append(f"step {step + 1}: the request body is not JSON; the harness sends JSON only, so it is left out")
    elif exchange.request_body.strip():
        secrets = {pointer: key for (index, pointer), key in templater.analysis.secret_at.items() if index == step}
        request["body"] = templater.data(body, step, expect=False, secrets=secrets)
    named = _name_and_description(exchange.method, _shown_path(path, query), exchange.status,
                                  request.get("body"), body_left_out)
    return {**named, "request": request, "expect": _expect(templater, item)}


def _path(templater: Templater, item: Replayable) -> str:
    """The request path with captured ids as references; flags without "=" stay in it."""
    segments = []
    for segment in item.rel_path.split("/"):
        decoded = unquote(segment)
        template, _ = templater.replacement(decoded, item.index, id_context=True) if decoded else (None, False)
        segments.append(template if template is not None and template != MASK else escape_literal(segment))
    path = "/".join(segments)
    if item.raw_flags:
        path += "?" + "&".join(escape_literal(f) for f in item.raw_flags)
    return path


def _query(templater: Templater, item: Replayable, notes: list[str]) -> dict[str, Any]:
    """The query parameters, templated (a filter's quoted values inside their quotes)."""
    query: dict[str, Any] = {}
    for name, value in item.query:
        if name in query:
            notes.append(f"step {item.index + 1}: query parameter {name!r} was sent more than once; "
                         "only the last is kept")
        if name.lower() == "filter":
            query[escape_literal(name)] = templater.filter_text(value, item.index, expect=False)
        else:
            query[escape_literal(name)] = templater.text(value, item.index, expect=False)
    return query


def _headers(templater: Templater, item: Replayable) -> dict[str, str]:
    """The request headers to replay: none that concern the connection or carry a credential."""
    headers: dict[str, str] = {}
    for name, value in item.exchange.request_headers:
        low = name.lower()
        if low in _NOT_REPLAYED or is_sensitive_header(name) or name.startswith(":"):
            continue
        if templater.analysis.redactor.mask(value) != value:
            continue  # a credential in a header of another name
        rendered = templater.text(value, item.index, expect=False, id_context=low in ("if-match", "if-none-match"))
        headers[name] = f"{headers[name]}, {rendered}" if name in headers else rendered
    return headers


def _name_and_description(method: str, shown_path: str, status: int, body: Any, body_left_out: bool) -> dict[str, str]:
    """The step's name (`PATCH /Users/${user_1_id} (replace active) → 200`), at most MAX_STEP_NAME
    characters: when it would be longer, the name keeps method, path and status and the rest goes
    to `description`."""
    summary = _patch_summary(body, 100)
    operations = f" ({summary})" if summary else ""
    left_out = " (its non-JSON body is left out)" if body_left_out else ""
    whole = f"{method} {shown_path}{operations} → {status}{left_out}"
    if len(whole) <= MAX_STEP_NAME:
        return {"name": whole}
    request_line = f"{method} {shown_path} → {status}"
    name = request_line
    details = []
    if len(request_line) > MAX_STEP_NAME:
        room = MAX_STEP_NAME - len(f"{method} … → {status}")
        name = f"{method} {shown_path[:room]}… → {status}"
        details.append(f"Sent as {request_line}.")
    if summary:
        details.append(f"Operations: {_patch_summary(body, 1000)}")
    if body_left_out:
        details.append("Its non-JSON body is left out.")
    return {"name": name, "description": "\n".join(details)}


def _shown_path(path: str, query: dict[str, Any]) -> str:
    """The path and the names of the query parameters (their values can be long)."""
    if not query:
        return path
    return f"{path}?{'&'.join(query)}"


def _patch_summary(body: Any, limit: int) -> str:
    """`replace active, add emails[type eq "work"].value` for a PATCH body, cut at `limit`; "" for any other."""
    operations = attribute(body, "Operations") if isinstance(body, dict) else None
    if not isinstance(operations, list):
        return ""
    shown = []
    for operation in operations:
        if isinstance(operation, dict):
            op, path = attribute(operation, "op"), attribute(operation, "path")
            shown.append(f"{op} {path}" if path else f"{op} (no path)")
    summary = ", ".join(shown)
    return f"{summary[:limit]}{'…' if len(summary) > limit else ''}"


def _expect(templater: Templater, item: Replayable) -> dict[str, Any]:
    """The step's `expect`: status, headers, schema, empty body or the answer's stable values."""
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
    body = json_body(raw)
    collection, _ = collection_of(item.rel_path)
    schema = _schema_name(body, collection)
    if schema:
        expect["schema"] = schema
    if isinstance(body, dict):
        expected = _expected_body(templater, body, step, _stable_list(templater, body, step, item))
        if expected:
            expect["json"] = expected
    return expect


def _stable_list(templater: Templater, body: dict[str, Any], step: int, item: Replayable) -> bool:
    """Whether a list answer depends only on what this recording did (else only its schema is checked)."""
    collection, _ = collection_of(item.rel_path)
    if collection in ("schemas", "resourcetypes"):
        return True
    if not any(name.lower() == "filter" for name, _ in item.query):
        return False  # the whole collection: whatever else is on the server shows up
    resources = attribute(body, "Resources")
    for resource in resources if isinstance(resources, list) else []:
        resource_id = resource.get("id") if isinstance(resource, dict) else None
        found = templater.analysis.generated.get(resource_id) if isinstance(resource_id, str) else None
        if found is None or found.step >= step:
            return False  # a resource this recording did not create before this step
    return True


def _expected_body(templater: Templater, body: dict[str, Any], step: int, stable_list: bool) -> Any:
    """The `json` check: the answer's values that a replay against the same server must repeat."""
    schemas = [str(s).lower() for s in body.get("schemas") or [] if isinstance(s, str)]
    if ERROR_RESPONSE in schemas:
        # Error details are free text (they may quote personal data): status and scimType only.
        body = {k: v for k, v in body.items() if k.lower() in ("schemas", "status", "scimtype")}
    elif LIST_RESPONSE in schemas or isinstance(attribute(body, "Resources"), list):
        if not stable_list:
            return None
    cleaned = _stable(body, templater.analysis.redactor)
    expected = templater.data(cleaned, step, expect=True)
    if expected is DROP or not expected:
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
            if low == "$ref" or redactor.mask(str(key)) != key or (redacted.get(key) == MASK and item != MASK):
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
    if LIST_RESPONSE in schemas:
        candidates.append("ListResponse")
    elif ERROR_RESPONSE in schemas:
        candidates.append("Error")
    elif CORE_USER in schemas:
        candidates.append("User")
    elif CORE_GROUP in schemas:
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
