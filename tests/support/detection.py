"""Detection power: which scenario must catch which deviation, and a check that it does.

Each IdP suite keeps its own table of `Expectation`s (tests/faults/test_<suite>_detection.py);
one expectation says: with this deviation switched on in front of the real embedded server,
this scenario, replayed as this IdP, fails at this step with these words in its report. The
detection-rate test gathers every table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.support.deviating_proxy import DeviatingProxy, Deviation
from tests.support.runs import DISTINCTIVE_TOKEN, RunResult, embedded_target, everything_written, run_scenarios

__all__ = ["Expectation", "assert_caught", "run_with_deviation"]


@dataclass(frozen=True)
class Expectation:
    """A deviation and where the suite must catch it."""

    deviation: Deviation
    scenario: str  # path relative to the repository, e.g. scenarios/okta/import-users.scenario.yaml
    idp: str  # the IdP profile the scenario is replayed as
    step: str  # the step heading in the failure report, e.g. 'Step 3 "create the user"'
    words: tuple[str, ...]  # fragments the failure report must contain (the deviation named)
    # A target profile to run with (capabilities the deviation is about); None = the proxy URL.
    capabilities: dict[str, bool] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.deviation.name}@{Path(self.scenario).stem.removesuffix('.scenario')}[{self.idp}]"


def run_with_deviation(
    upstream: str, reports: Path, deviations: Sequence[Deviation], scenario: str, idp: str,
    capabilities: dict[str, bool] | None = None,
) -> RunResult:
    """Run one scenario as one IdP through a proxy with `deviations` in front of `upstream`.

    The target profile is the embedded server's (its capabilities), with `capabilities` on top
    and without its known deviations: a deviation that is expected is not one that is caught.
    """
    with DeviatingProxy(upstream, deviations) as proxy:
        profile = Path(embedded_target(proxy.url, reports))
        data = yaml.safe_load(profile.read_text(encoding="utf-8"))
        data["id"] = "deviating"
        data.pop("expected_failures", None)
        data["capabilities"] = {**data.get("capabilities", {}), **(capabilities or {})}
        profile.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return run_scenarios(str(profile), reports, "--idp", idp, paths=(scenario,))


def assert_caught(expectation: Expectation, result: RunResult) -> None:
    """The run failed exactly one item, at the expected step, naming the deviation."""
    output = result.output
    assert result.code == 1, f"{expectation.id}: not caught (exit {result.code})\n{output[-3000:]}"
    assert "1 failed" in output, output[-3000:]
    assert expectation.step in output, f"{expectation.id}: failed elsewhere\n{output[-3000:]}"
    for words in expectation.words:
        assert words in output, f"{expectation.id}: report lacks {words!r}\n{output[-3000:]}"
    assert "Reproduce with:\n  curl " in output
    assert DISTINCTIVE_TOKEN not in output + everything_written(result.reports)
