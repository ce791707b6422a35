"""Checks on the response body: JSON subset, RFC 7643/7644 message schema, scimType."""

from __future__ import annotations

import json
from typing import Any

from conformance.engine import rfc
from conformance.engine.checks.registry import CheckFailed, check
from conformance.engine.exchange import NOT_JSON, Exchange


def json_body(exchange: Exchange) -> Any:
    """The JSON body, or a CheckFailed that says what came instead (HTML, empty, garbage)."""
    received = exchange.received
    assert received is not None
    if received.json is NOT_JSON:
        if received.json_problem:
            raise CheckFailed(f"expected a JSON body, got {received.json_problem} (status {received.status})")
        if not received.text.strip():
            raise CheckFailed(f"expected a JSON body, got an empty body (status {received.status})")
        kind = received.media_type or "no Content-Type"
        snippet = " ".join(received.text.split())[:120]
        raise CheckFailed(f"expected a JSON body, got {kind}: {snippet!r}")
    return received.json


def _same_scalar(expected: Any, actual: Any) -> bool:
    # Strict on type: 0 is not "0", and True is not 1 (Python's == says it is).
    return (type(expected) is type(actual) and expected == actual) or (
        isinstance(expected, int | float)
        and isinstance(actual, int | float)
        and not isinstance(expected, bool)
        and not isinstance(actual, bool)
        and expected == actual
    )


def _contains(expected: Any, actual: Any) -> bool:
    """Whether `expected` is contained in `actual`: `_mismatch` is None, without the messages.

    The search for a matching array item tries every item; building a message (with its JSON)
    for each one that does not match was most of this check's time.
    """
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and _contains(want, actual[key]) for key, want in expected.items())
    if isinstance(expected, list):
        if not isinstance(actual, list) or (not expected and actual):
            return False
        return all(any(_contains(want, item) for item in actual) for want in expected)
    return _same_scalar(expected, actual)


def _mismatch(expected: Any, actual: Any, where: str) -> str | None:
    """First place where `expected` is not contained in `actual`, as a message, or None."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected an object, got {json.dumps(actual)[:80]}"
        for key, want in expected.items():
            if key not in actual:
                return f"{where}.{key}: missing (expected {json.dumps(want)[:80]})"
            problem = _mismatch(want, actual[key], f"{where}.{key}")
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where}: expected an array, got {json.dumps(actual)[:80]}"
        if not expected and actual:
            return f"{where}: expected an empty array, got {len(actual)} item(s)"
        # Multi-valued SCIM attributes have no defined order: every expected item must match
        # some actual item.
        for i, want in enumerate(expected):
            if not any(_contains(want, item) for item in actual):
                return f"{where}[{i}]: no item matches {json.dumps(want)[:80]}"
        return None
    if not _same_scalar(expected, actual):
        return f"{where}: expected {json.dumps(expected)}, got {json.dumps(actual)[:80]}"
    return None


@check("json", {"type": "object"})
def json_subset(expected: Any, exchange: Exchange) -> None:
    """The JSON body contains these keys and values (nested objects, array items; [] = empty)."""
    actual = json_body(exchange)
    problem = None if _contains(expected, actual) else _mismatch(expected, actual, "$")
    if problem:
        raise CheckFailed(f"body does not match: {problem}", expected=expected, actual=actual)


@check("schema", {"enum": rfc.schema_names()})
def schema(expected: Any, exchange: Exchange) -> None:
    """The JSON body is a valid RFC 7643/7644 message of this kind (User, ListResponse, ...)."""
    actual = json_body(exchange)
    problems = rfc.validate(expected, actual)
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CheckFailed(
            f"body is not a valid {expected}: {problems[0]}{more}",
            expected=f"RFC {expected} schema",
            actual=problems,
        )


@check("scimType", {"type": "string"})
def scim_type(expected: Any, exchange: Exchange) -> None:
    """The SCIM Error body has this scimType (uniqueness, invalidFilter, ...; RFC 7644 §3.12)."""
    actual = json_body(exchange)
    found = actual.get("scimType") if isinstance(actual, dict) else None
    if found != expected:
        raise CheckFailed(
            f"expected scimType {expected!r}, got {found!r}", expected=expected, actual=found
        )


@check("empty_body", {"type": "boolean"})
def empty_body(expected: Any, exchange: Exchange) -> None:
    """true: the body is empty (e.g. 204); false: the body is not empty."""
    assert exchange.received is not None
    text = exchange.received.text.strip()
    if expected and text:
        raise CheckFailed(f"expected an empty body, got {text[:80]!r}")
    if not expected and not text:
        raise CheckFailed("expected a body, got an empty one")


@check("absent", {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}})
def absent(expected: Any, exchange: Exchange) -> None:
    """These attributes (dotted paths, case-insensitive as SCIM names are) are not in the body."""
    actual = json_body(exchange)
    found = [path for path in expected if _has_path(actual, path)]
    if found:
        raise CheckFailed(
            f"body has {', '.join(repr(p) for p in found)}, which must not be returned",
            expected={"absent": expected}, actual=found,
        )


@check("present", {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}})
def present(expected: Any, exchange: Exchange) -> None:
    """These attributes (dotted paths, case-insensitive) are in the body, whatever their value."""
    actual = json_body(exchange)
    missing = [path for path in expected if not _has_path(actual, path)]
    if missing:
        keys = ", ".join(sorted(map(str, actual))) if isinstance(actual, dict) else type(actual).__name__
        raise CheckFailed(
            f"body lacks {', '.join(repr(p) for p in missing)} (it has: {keys})",
            expected={"present": expected}, actual=missing,
        )


def _has_path(value: Any, path: str) -> bool:
    """Does `value` hold the attribute `path`? Names compare case-insensitively; a step is a key
    followed by `.` (sub-attribute) or, for a schema URN key, by `:` (its attribute), as in
    `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`."""
    if isinstance(value, list):
        return any(_has_path(item, path) for item in value)
    if not isinstance(value, dict):
        return False
    wanted = path.lower()
    for key, item in value.items():
        if not isinstance(key, str):
            continue
        name = key.lower()
        if wanted == name:
            return True
        separators = (".", ":") if name.startswith("urn:") else (".",)
        for separator in separators:
            if wanted.startswith(name + separator) and _has_path(item, path[len(key) + 1:]):
                return True
    return False


@check("excludes", {"type": "array", "minItems": 1, "items": {"type": "string"}})
def excludes(expected: Any, exchange: Exchange) -> None:
    """None of these strings appears anywhere in the raw body (a password must never come back)."""
    assert exchange.received is not None
    text = exchange.received.text
    found = [i for i, value in enumerate(expected) if isinstance(value, str) and value and value in text]
    if found:
        # The value itself may be a secret: say which one by position, not by content.
        raise CheckFailed(f"body contains excluded value #{found[0] + 1} (of {len(expected)}), which must "
                          "never be returned")
