"""The two kinds of failure, kept apart: the target deviates, or the harness/its files are wrong.

A `TargetDeviation` is an AssertionError, so pytest and Allure show it as "failed" (a product
defect of the server under test). A `HarnessError` is anything wrong on our side: a scenario or
profile file that does not validate, a template naming an undefined value, a target that cannot be
configured. It carries `path:line` so the user can jump to the offending line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["HarnessError", "Problem", "ScenarioFileError", "TargetDeviation", "TargetUnreachable"]


@dataclass(frozen=True)
class Problem:
    """One problem in a data file, located at a line (1-based; 0 when unknown)."""

    path: Path | str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


class HarnessError(Exception):
    """A problem of the harness, its configuration or its data files: never the target's fault."""


class ScenarioFileError(HarnessError):
    """One or more problems in scenario, shared-step or profile files, each as `path:line: message`."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class TargetDeviation(AssertionError):
    """The target answered something a check did not accept.

    `title` is the one-line cause; `report` is the full, already redacted, text that shows the
    step, the request, the response, what was expected and a curl line.
    """

    def __init__(self, title: str, report: str) -> None:
        self.title = title
        self.report = report
        super().__init__(report)


class TargetUnreachable(TargetDeviation):
    """The target could not be reached or did not answer in time (connection refused, timeout, TLS).

    Still an AssertionError: a run against a target that is down must fail, not pass or crash.
    """
