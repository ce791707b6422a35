"""The `headers` check: response headers present, absent, or with a given value."""

from __future__ import annotations

from typing import Any

from conformance.engine.checks.registry import CheckFailed, check
from conformance.engine.exchange import Exchange

_MEDIA_TYPE_HEADERS = frozenset({"content-type", "accept"})


def _same(name: str, actual: str, want: str) -> bool:
    # Media types compare without parameters and case: "application/scim+json; charset=utf-8"
    # satisfies an expectation of "application/scim+json". Other values (ETags) compare exactly.
    if name.lower() in _MEDIA_TYPE_HEADERS:
        return actual.split(";")[0].strip().lower() == want.split(";")[0].strip().lower()
    return actual.strip() == want.strip()


@check(
    "headers",
    {"type": "object", "additionalProperties": {"type": ["string", "boolean", "null"]}},
)
def headers(expected: Any, exchange: Exchange) -> None:
    """Each named header: true = present, null/false = absent, a string = that value (media type)."""
    assert exchange.received is not None
    for name, want in expected.items():
        actual = exchange.received.header(name)
        if want is True and actual is None:
            raise CheckFailed(f"expected header {name} to be present; it is missing")
        if want in (None, False) and actual is not None:
            raise CheckFailed(f"expected no {name} header, got {actual!r}")
        if isinstance(want, str):
            if actual is None:
                raise CheckFailed(f"expected header {name}: {want}; it is missing", expected=want)
            if not _same(name, actual, want):
                raise CheckFailed(
                    f"expected header {name}: {want}, got {actual!r}", expected=want, actual=actual
                )
