"""The `status` check: the HTTP status code of the answer."""

from __future__ import annotations

from typing import Any

from conformance.engine.checks.registry import CheckFailed, check
from conformance.engine.exchange import Exchange

_STATUS = {"type": "integer", "minimum": 100, "maximum": 599}


@check("status", {"oneOf": [_STATUS, {"type": "array", "minItems": 1, "items": _STATUS}]}, order=0)
def status(expected: Any, exchange: Exchange) -> None:
    """The response status is this code, or one of these codes."""
    assert exchange.received is not None
    allowed = expected if isinstance(expected, list) else [expected]
    actual = exchange.received.status
    if actual not in allowed:
        want = " or ".join(str(code) for code in allowed)
        raise CheckFailed(f"expected status {want}, got {actual}", expected=expected, actual=actual)
