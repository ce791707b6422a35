"""How the compiler reads SCIM traffic: JSON bodies, attribute paths, filter comparisons, collections.

Shared by both passes of the compiler (`analysis` finds who is who, `templater` and `steps` write
the scenario), so that a request is read the same way when it is analysed and when it is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from conformance.engine import jsondepth

__all__ = [
    "CORE_GROUP", "CORE_USER", "ENTERPRISE_USER", "ERROR_RESPONSE", "LIST_RESPONSE", "NOT_JSON",
    "attribute", "collection_of", "comparisons", "json_body", "key_path", "patch_path",
]

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:user"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:group"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:listresponse"
ERROR_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:error"
# attrPath op "value" in a filter (RFC 7644 §3.4.2.2); the attribute may carry a [value filter].
_COMPARISON = re.compile(
    r"(?P<attr>[A-Za-z_$][\w$:.\-]*(?:\[[^\]]*\])?(?:\.[A-Za-z_$][\w$]*)?)\s+"
    r"(?P<op>eq|ne|co|sw|ew|gt|ge|lt|le)\s+(?P<lit>\"(?:[^\"\\]|\\.)*\")",
    re.IGNORECASE,
)
_PATCH_PATH = re.compile(r"^(?P<attr>[^\[\]]+?)(?:\[(?P<filter>.*)\])?(?:\.(?P<sub>[A-Za-z_$][\w$]*))?$", re.S)


def json_body(raw: bytes) -> Any:
    """A body as JSON: None when empty, `NOT_JSON` when it is something else."""
    if not raw or not raw.strip():
        return None
    try:
        return jsondepth.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):  # not JSON, or nested too deep to walk
        return NOT_JSON


class _NotJson:
    """The marker for a body that is not JSON (shown as such in a repr)."""

    def __repr__(self) -> str:
        return "<not JSON>"


NOT_JSON: Any = _NotJson()


def key_path(key: str) -> tuple[str, ...]:
    """A body key (or PATCH path) as a lower-cased attribute path; the core URN is dropped."""
    low = key.strip().lower()
    for urn in (CORE_USER, CORE_GROUP):
        if low == urn:
            return ()
        if low.startswith(urn + ":"):
            return tuple(low[len(urn) + 1:].split("."))
    if low == ENTERPRISE_USER:
        return (ENTERPRISE_USER,)
    if low.startswith(ENTERPRISE_USER + ":"):
        return (ENTERPRISE_USER, *low[len(ENTERPRISE_USER) + 1:].split("."))
    if low.startswith("urn:"):
        return (low,)
    return tuple(low.split("."))


def patch_path(path: str) -> tuple[tuple[str, ...], str | None, tuple[str, ...]]:
    """`emails[type eq "work"].value` -> (('emails', 'value'), 'type eq "work"', ('emails',))."""
    match = _PATCH_PATH.match(path.strip())
    if not match:
        return key_path(path), None, ()
    base = key_path(match.group("attr"))
    sub = (match.group("sub").lower(),) if match.group("sub") else ()
    return base + sub, match.group("filter"), base


def comparisons(text: str) -> Iterator[tuple[tuple[str, ...], str, re.Match[str]]]:
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
        path = patch_path(attr)[0]
        if outer:
            path = key_path(outer.group(1)) + path
        yield path, value, match


def collection_of(rel_path: str) -> tuple[str, str | None]:
    """`/Users/abc` -> ('users', 'abc'); `/` -> ('', None)."""
    segments = [s for s in rel_path.split("/") if s]
    if not segments:
        return "", None
    return segments[0].lower(), (unquote(segments[1]) if len(segments) > 1 else None)


def attribute(mapping: dict[str, Any], name: str) -> Any:
    """A key, case-insensitively (SCIM attribute names are case-insensitive)."""
    for key, value in mapping.items():
        if isinstance(key, str) and key.lower() == name.lower():
            return value
    return None
