"""Checks on group resources: membership compared exactly."""

from __future__ import annotations

from typing import Any

from conformance.engine.checks.body import json_body
from conformance.engine.checks.registry import CheckFailed, check
from conformance.engine.exchange import Exchange

__all__ = ["members"]


@check("members", {"anyOf": [{"type": "array", "items": {"type": "string"}},
                              {"type": "string", "pattern": r"^\$\{.*\}$"}]})
def members(expected: Any, exchange: Exchange) -> None:
    """The group's `members[].value` are exactly these ids, in any order; [] = no members.

    An empty group may come back with `members` absent, null or [] (all three are an empty
    multi-valued attribute, RFC 7643 §2.5). A `${...}` argument must render to a list of ids.
    """
    if not isinstance(expected, list):
        raise CheckFailed(f"harness: members expects a list of ids, got {type(expected).__name__}")
    body = json_body(exchange)
    if not isinstance(body, dict):
        raise CheckFailed("expected a group object, got a JSON " + type(body).__name__)
    listed = body.get("members")
    if listed is None:
        listed = []
    if not isinstance(listed, list):
        raise CheckFailed(f"members is not an array: {str(listed)[:80]}", actual=listed)
    values = [m.get("value") if isinstance(m, dict) else m for m in listed]
    want, have = set(expected), [v for v in values if isinstance(v, str)]
    missing = sorted(want - set(have))
    extra = sorted(set(have) - want)
    doubled = sorted({v for v in have if have.count(v) > 1})
    problems = []
    if missing:
        problems.append(f"{len(missing)} expected member(s) missing ({', '.join(missing[:3])}"
                        + (", ..." if len(missing) > 3 else "") + ")")
    if extra:
        problems.append(f"{len(extra)} unexpected member(s) ({', '.join(extra[:3])}"
                        + (", ..." if len(extra) > 3 else "") + ")")
    if doubled:
        problems.append(f"member(s) listed twice ({', '.join(doubled[:3])})")
    if len(have) != len(values):
        problems.append("member object(s) without a string value")
    if problems:
        raise CheckFailed(
            f"group has {len(values)} member(s), expected {len(want)}: " + "; ".join(problems),
            expected=sorted(want), actual=values,
        )
