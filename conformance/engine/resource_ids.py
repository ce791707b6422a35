"""Ids a SCIM server hands out: how one goes into a URL, and when the resource it names is the run's.

A server-given id is data, never URL syntax. It goes into a request path only as ONE
percent-encoded path segment (`render_path`, `resource_path`). An id that cannot be one segment
(empty, `.` or `..`, longer than `MAX_ID_LENGTH`, or holding `/`, `\\`, `?`, `#`, `%` or a
control character) is refused before anything is sent to it: a server that answers
`../Groups/<id>` must not steer a PATCH or a DELETE at a resource the run did not create. `%` is
refused rather than encoded because a server that decodes a path twice would turn `%2F` back into
`/`.

A resource is the run's only when the run can prove it. The create sent a generated name
(`userName` for users, `displayName` for groups), and a GET of the id the create answer named must
read that name back (case-insensitive for `userName`, RFC 7643 §4.1.1). The create answer alone is
no proof, even when it repeats the id and the name: a server that echoes the request body shows the
run's name beside any id. So every created resource costs one GET, once. Before a resource is
removed, cleanup reads it again and removes it only while it still carries a name of the run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from conformance.engine.exchange import Exchange
from conformance.engine.fakedata import USERNAME_PREFIX
from conformance.engine.templating import render_parts

__all__ = [
    "MAX_ID_LENGTH",
    "Reread",
    "UnusableId",
    "belongs_to_run",
    "carries_name",
    "created_id_problem",
    "generated_name",
    "id_problem",
    "name_attribute",
    "name_prefix",
    "path_segment",
    "prove_created",
    "render_path",
    "reread",
    "resource_path",
    "runs_names",
    "same_name",
    "shown",
]

MAX_ID_LENGTH = 1024  # far above any real id (UUIDs are 36, database keys shorter)
# Characters of an id left as they are in a path; everything else is percent-encoded. `;` and `,`
# are encoded too: some servers cut a path segment at `;` (matrix parameters).
_SAFE = "-._~@:"


class UnusableId(ValueError):
    """A value from the target that cannot be used as one URL path segment."""


def shown(value: object) -> str:
    """A value from the target as a report shows it: quoted, control characters escaped, cut short."""
    text = json.dumps(value, ensure_ascii=True) if isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _text_problem(text: str) -> str | None:
    if text == "":
        return "it is empty"
    if text in (".", ".."):
        return f"it is {text!r}, a relative path"
    for character, name in (("/", "'/'"), ("\\", "'\\'"), ("?", "'?'"), ("#", "'#'")):
        if character in text:
            return f"it contains {name}"
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text):
        return "it contains a control character"
    return None


def id_problem(value: object) -> str | None:
    """Why `value` cannot be used as one URL path segment, or None when it can."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        kinds = {type(None): "null", bool: "true or false", list: "an array", dict: "an object"}
        kind = kinds.get(type(value), "a number")
        return f"it is {kind}, not a string"
    text = str(value)
    if len(text) > MAX_ID_LENGTH:
        return f"it is {len(text)} characters long"
    if "%" in text:
        problem = _text_problem(unquote(text))
        return f"it contains '%' ({problem} once decoded)" if problem else "it contains '%'"
    return _text_problem(text)


def path_segment(value: object) -> str:
    """`value` percent-encoded as one path segment; `UnusableId` when it cannot be one."""
    problem = id_problem(value)
    if problem:
        raise UnusableId(f"the id {shown(value)} from the target cannot be used in a URL ({problem}): "
                         "refused, nothing was sent to it")
    return quote(str(value), safe=_SAFE)


def resource_path(collection: str, resource_id: object) -> str:
    """`<collection>/<id>` with the id as one encoded segment (e.g. /Users/2819c223)."""
    return f"{collection.rstrip('/')}/{path_segment(resource_id)}"


def render_path(template: str, scope: Mapping[str, Any]) -> str:
    """Render a request path; each value substituted before the `?` becomes one encoded segment."""
    pieces: list[str] = []
    in_query = False
    for substituted, part in render_parts(template, scope):
        if not substituted:
            pieces.append(part)
            in_query = in_query or "?" in part
        elif in_query:
            pieces.append(part if isinstance(part, str) else json.dumps(part, ensure_ascii=False))
        else:
            pieces.append(path_segment(part))
    return "".join(pieces)


# --- which resources are the run's ----------------------------------------------------------

def name_prefix(run_id: str) -> str:
    """`scimc-<run id>-`: what every name generated by that run starts with."""
    return f"{USERNAME_PREFIX}-{run_id}-"


def belongs_to_run(name: object, run_id: str) -> bool:
    """True for a name `conformance.engine.fakedata` generated in run `run_id` (any worker of it).

    `scimc-<run>-<n>.<given>.<family>@<domain>` for users, `scimc-<run>-<n> <job>` for groups,
    with `w<worker>-` after the run id in parallel runs. A bare prefix match is not enough: run
    `ab` must not remove what run `ab-12` created, nor a name a person typed that happens to start
    the same way.
    """
    if not isinstance(name, str):
        return False
    shape = rf"{re.escape(name_prefix(run_id))}(?:w\d+-)?\d+[. ]"
    return re.match(shape, name) is not None


def name_attribute(collection: str) -> str | None:
    """The attribute that carries a generated name in `collection`: userName, displayName, or None."""
    kind = collection.rstrip("/").lower()
    if kind.endswith("/users"):
        return "userName"
    if kind.endswith("/groups"):
        return "displayName"
    return None


def _name_attributes(collection: str) -> tuple[str, ...]:
    # A user created without a userName (a scenario testing that it is refused, on a server that
    # accepts it anyway) is still recognised by the displayName the create sent.
    attribute = name_attribute(collection)
    return ("userName", "displayName") if attribute == "userName" else (attribute,) if attribute else ()


def generated_name(collection: str, body: Any) -> str:
    """The name a create request's `body` gave the new resource ("" when it gave none): its userName
    (a user's displayName when the userName is missing or empty) or displayName."""
    for attribute in _name_attributes(collection):
        name = body.get(attribute) if isinstance(body, dict) else None
        if isinstance(name, str) and name:
            return name
    return ""


def runs_names(collection: str, sent: str, run_id: str) -> Callable[[object], bool]:
    """Which names mark a resource of `collection` as the run's: the name its create sent, or any
    name the run generated (a server that stores `<name>.second-account` still holds the run's)."""
    return lambda found: same_name(collection, sent, found) or belongs_to_run(found, run_id)


def same_name(collection: str, sent: str, found: object) -> bool:
    """True when `found` is the name `sent` (userName compared case-insensitively, as RFC 7643 says)."""
    if not sent or not isinstance(found, str):
        return False
    if name_attribute(collection) == "userName":
        return sent.casefold() == found.casefold()
    return sent == found


def carries_name(collection: str, body: object, names: Callable[[object], bool]) -> bool:
    """True when a resource body of `collection` has a name attribute whose value `names` accepts."""
    return isinstance(body, dict) and any(names(body.get(name)) for name in _name_attributes(collection))


@dataclass(frozen=True)
class Reread:
    """A resource read again by id: gone (404), still the run's, or not (anymore) the run's."""

    gone: bool
    ours: bool
    detail: str = ""  # why it is not the run's, or what went wrong reading it
    active: bool | None = None
    name: object = None  # the name it carries (userName or displayName)


def reread(collection: str, exchange: Exchange, names: Callable[[object], bool]) -> Reread:
    """Judge the answer to a GET of one resource: `names` says which names are the run's."""
    received = exchange.received
    if received is None:
        return Reread(False, False, f"cannot read it by id: {exchange.error}")
    if received.status == 404:
        return Reread(True, False)
    body = received.json if isinstance(received.json, dict) else None
    if received.status != 200 or body is None:
        return Reread(False, False, f"cannot read it by id: GET answered {received.status}")
    attribute = name_attribute(collection) or "name"
    found = body.get(attribute)
    active = body.get("active")
    active = active if isinstance(active, bool) else None
    if not carries_name(collection, body, names):
        return Reread(False, False, f"it now has {attribute} {shown(found)}, not a name this run generated",
                      active, found)
    return Reread(False, True, active=active, name=found)


def created_id_problem(resource_id: object) -> str | None:
    """Why a create answer's id cannot be recorded as the run's because of its shape, or None."""
    problem = id_problem(resource_id)
    if problem is None:
        return None
    return (f"the create answer's id {shown(resource_id)} cannot be used in a URL ({problem}): it is not "
            "recorded as this run's and nothing was sent to it")


def prove_created(
    read: Callable[[str], Exchange], collection: str, resource_id: object, sent: str, run_id: str
) -> str | None:
    """None when the resource the create answer named carries the name the create sent (or another
    name of run `run_id`), else why it is not the run's.

    `read(path)` sends a GET; it is called at most once, and never for an unusable id.
    """
    problem = created_id_problem(resource_id)
    if problem:
        return problem
    if not sent:
        attribute = name_attribute(collection) or "a userName or displayName"
        return (f"the create answer's id {shown(resource_id)} cannot be proven to be this run's: the create "
                f"sent no {attribute}; it is not recorded for cleanup")
    result = reread(collection, read(resource_path(collection, resource_id)), runs_names(collection, sent, run_id))
    if result.ours:
        return None
    if result.gone:
        detail = "a GET of it answered 404"
    elif result.detail.startswith("cannot read"):
        detail = result.detail
    else:
        detail = f"it has {name_attribute(collection) or 'name'} {shown(result.name)}"
    return (f"the create answer's id {shown(resource_id)} names another resource ({detail}; this run created "
            f"{shown(sent)}): it is not recorded as this run's, and cleanup leaves it alone")
