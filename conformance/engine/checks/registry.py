"""The registry of checks: each kind of expectation is one function registered by name.

A scenario's `expect:` maps check names to arguments. The loader validates every name and
argument against this registry before a request is sent; the runner calls the functions.
Adding a new kind of expectation is one new function, not an edit of the runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from conformance.engine.exchange import Exchange
from conformance.engine.schema_validator import SchemaValidator

__all__ = ["CHECKS", "Check", "CheckFailed", "check"]


class CheckFailed(Exception):
    """What a check did not accept: a one-line message and, when useful, expected vs actual."""

    def __init__(self, message: str, *, expected: Any = None, actual: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.actual = actual


CheckFunction = Callable[[Any, Exchange], None]


@dataclass(frozen=True)
class Check:
    name: str
    function: CheckFunction
    argument_schema: dict[str, Any]
    description: str
    order: int  # lower runs first: a wrong status makes body checks noise

    @cached_property
    def argument_validator(self) -> SchemaValidator:
        """Validates a scenario's argument for this check (built once, used for every step)."""
        return SchemaValidator(self.argument_schema)


CHECKS: dict[str, Check] = {}


def check(
    name: str, argument_schema: dict[str, Any], *, order: int = 50
) -> Callable[[CheckFunction], CheckFunction]:
    """Register `function` as the check `name`; its docstring is the user-facing description."""

    def register(function: CheckFunction) -> CheckFunction:
        if name in CHECKS:
            raise ValueError(f"check {name!r} registered twice")
        doc = (function.__doc__ or "").strip().splitlines()
        CHECKS[name] = Check(name, function, argument_schema, doc[0] if doc else "", order)
        return function

    return register
