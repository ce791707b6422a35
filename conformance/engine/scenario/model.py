"""The scenario model: what a loaded, validated and expanded scenario file holds.

Frozen dataclasses only; no behaviour beyond small conveniences. Values inside `Request`,
`expect` and `capture` are still templates: the runner renders them step by step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.engine.conditions import Condition

__all__ = ["BUILTIN_KEYS", "BUILTIN_NAMES", "MAX_STEP_NAME", "Location", "Pagination", "Request", "Scenario", "Step"]

# Names every template may use without defining them: the run id, the data generator, the IdP
# profile and the target. The runner puts them in each item's scope before the scenario's vars.
# Each with what a template may read of it (`templating.builtin_misuse`): run_id is text, idp and
# target are mappings with these keys, and fake is only called (fake.user()), never read.
BUILTIN_KEYS: dict[str, frozenset[str] | None] = {
    "run_id": frozenset(),
    "fake": None,
    "idp": frozenset({"id", "name"}),
    "target": frozenset({"base_url", "capabilities"}),
}
BUILTIN_NAMES = frozenset(BUILTIN_KEYS)
# A step name is a label in pytest, Allure and failure reports; prose goes in its description.
MAX_STEP_NAME = 80


@dataclass(frozen=True)
class Location:
    """Where something was written: file and 1-based line."""

    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Request:
    """One HTTP request as written (templates unrendered); `idp` names a profile template."""

    idp: str | None = None
    method: str | None = None
    path: str | None = None
    query: dict[str, Any] | None = None
    headers: dict[str, str | None] | None = None
    body: Any = None
    has_body: bool = False
    auth: str = "default"


@dataclass(frozen=True)
class Step:
    """One request, what is expected of its answer, and what to keep from it."""

    name: str
    request: Request
    location: Location
    expect: dict[str, Any] = field(default_factory=dict)
    capture: dict[str, str] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    refs: tuple[str, ...] = ()  # reference ids (docs/references.md) or RFC sections this step checks
    why: str = ""  # the behaviour those references describe, in a line
    via: str | None = None  # the shared sequence this step came from, if any
    when: Condition | None = None  # run only when the target meets it
    repeat: int | None = None  # send the request this many times, `index` = 1..repeat
    concurrent: bool = False  # with repeat: send all at once (race conditions)
    collect: dict[str, str] = field(default_factory=dict)  # like capture, appended to a list
    paginate: Pagination | None = None
    description: str = ""  # what the step does and why, for readers and `show`


@dataclass(frozen=True)
class Pagination:
    """Read a list page by page (startIndex 1, 1+count, ...) as an IdP import does."""

    count: int
    max_pages: int = 100
    include: Any = None  # ids (or a template giving a list) that must be among what was read


@dataclass(frozen=True)
class Scenario:
    """A sequence of steps an IdP runs, replayed once for each IdP profile in `idps`."""

    id: str
    title: str
    path: Path
    line: int
    idps: tuple[str, ...]
    steps: tuple[Step, ...]
    description: str = ""
    tags: tuple[str, ...] = ()
    requires: tuple[Condition, ...] = ()
    level: str = "must"
    refs: tuple[str, ...] = ()
    vars: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str:
        """The folder the scenario lives in (okta, entra, rfc, ...): the Allure feature."""
        return self.path.parent.name
