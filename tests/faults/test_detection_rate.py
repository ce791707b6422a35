"""Detection power, measured: the share of the deviation catalogue that the suite catches.

The catalogue is every named deviation in tests/support (core, okta, entra, idps, rfc). For each
deviation, the first expectation that names it (tests/faults/test_*_detection.py and CORE_EXPECTATIONS
below) is run: the deviation is switched on in front of the real embedded server and the
scenario must fail at the expected step with the expected words. A deviation no expectation
names counts as missed. The test prints the table, and fails when the catalogue has fewer than
40 deviations or the rate is below 95%. docs/detection.md shows the same table.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.engine.embedded import EmbeddedServer
from tests.faults.test_entra_detection import ENTRA_EXPECTATIONS
from tests.faults.test_idps_detection import IDPS_EXPECTATIONS
from tests.faults.test_okta_detection import OKTA_EXPECTATIONS
from tests.faults.test_rfc_detection import RFC_EXPECTATIONS
from tests.support.detection import Expectation, assert_caught, run_with_deviation
from tests.support.deviating_proxy import CATALOGUE, Deviation
from tests.support.deviations_entra import ENTRA_DEVIATIONS
from tests.support.deviations_idps import IDPS_DEVIATIONS
from tests.support.deviations_okta import OKTA_DEVIATIONS
from tests.support.deviations_rfc import RFC_DEVIATIONS
from tests.support.runs import REPO

MINIMUM_CATALOGUE = 40
MINIMUM_RATE = 0.95

# Core deviations no IdP table names yet, caught by the IdP scenarios that exercise them.
CORE_EXPECTATIONS: list[Expectation] = [
    Expectation(CATALOGUE["list-html"], "scenarios/okta/test-credentials.scenario.yaml", "okta",
                '"test credentials, groups (GET /Groups?startIndex=1&count=100)"',
                ("expected a JSON body, got text/html",)),
    Expectation(CATALOGUE["create-drops-location"], "scenarios/rfc/users-create.scenario.yaml", "rfc",
                '"POST /Users creates the user"', ("expected header location to be present; it is missing",)),
    Expectation(CATALOGUE["empty-filter-404"], "scenarios/entra/test-connection.scenario.yaml", "entra",
                '"test connection with userName as the matching attribute"',
                ("expected status 200, got 404", "this breaks Test Connection")),
    Expectation(CATALOGUE["patch-capitalised-op-rejected"], "scenarios/entra/update-user.scenario.yaml", "entra",
                '"update name, emails, externalId and enterprise attributes in one PATCH"',
                ("expected status 200 or 204, got 400", "Unsupported operation 'Replace'")),
]


@dataclass(frozen=True)
class Entry:
    suite: str
    deviation: Deviation

    @property
    def key(self) -> str:
        return f"{self.suite}:{self.deviation.name}"


def catalogue() -> list[Entry]:
    """Every deviation once; a name used by two suites for different faults counts twice."""
    entries: dict[int, Entry] = {}
    for suite, deviations in (("core", CATALOGUE), ("okta", OKTA_DEVIATIONS), ("entra", ENTRA_DEVIATIONS),
                              ("idps", IDPS_DEVIATIONS), ("rfc", RFC_DEVIATIONS)):
        for deviation in deviations.values():
            entries.setdefault(id(deviation), Entry(suite, deviation))
    return sorted(entries.values(), key=lambda e: e.key)


def _first_expectation(entry: Entry) -> Expectation | None:
    for expectation in (*OKTA_EXPECTATIONS, *ENTRA_EXPECTATIONS, *IDPS_EXPECTATIONS, *RFC_EXPECTATIONS,
                        *CORE_EXPECTATIONS):
        if expectation.deviation is entry.deviation:
            return expectation
    return None


def _caught(expectation: Expectation, upstream: str, reports: Path) -> str | None:
    """None when caught; otherwise why not (one line)."""
    result = run_with_deviation(upstream, reports, [expectation.deviation], expectation.scenario,
                                expectation.idp, expectation.capabilities)
    try:
        assert_caught(expectation, result)
    except AssertionError as exc:
        return str(exc).splitlines()[0]
    return None


def detection_table(rows: list[tuple[Entry, Expectation | None, str | None]]) -> str:
    lines = ["| Deviation | Breaks | Caught by | Result |", "|---|---|---|---|"]
    for entry, expectation, problem in rows:
        where = (f"`{Path(expectation.scenario).name}` [{expectation.idp}]" if expectation else "no scenario")
        result = "caught" if expectation and problem is None else f"**missed**: {problem or 'no expectation'}"
        deviation = entry.deviation
        lines.append(f"| `{entry.key}`: {deviation.description} | {deviation.source} | {where} | {result} |")
    return "\n".join(lines)


# One scenario run per deviation (about 2 s each, three at a time): over 100 deviations take about
# 3 to 5 minutes, longer than the default per-test timeout of pyproject.toml.
@pytest.mark.timeout(1200)
def test_the_suite_catches_at_least_95_percent_of_at_least_40_deviations(
    scim_server: EmbeddedServer, tmp_path: Path
):
    entries = catalogue()
    planned = [(entry, _first_expectation(entry)) for entry in entries]
    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = list(pool.map(
            lambda item: (_caught(item[1][1], scim_server.base_url, tmp_path / str(item[0]))
                          if item[1][1] is not None else "no expectation names it"),
            enumerate(planned),
        ))
    rows = [(entry, expectation, problem) for (entry, expectation), problem in zip(planned, outcomes, strict=True)]
    caught = sum(1 for _, expectation, problem in rows if expectation is not None and problem is None)
    rate = caught / len(rows)
    table = detection_table(rows)
    print(f"\nDetection: {caught}/{len(rows)} = {rate:.1%}\n{table}")
    assert len(rows) >= MINIMUM_CATALOGUE, f"only {len(rows)} deviations in the catalogue\n{table}"
    assert rate >= MINIMUM_RATE, f"detection {caught}/{len(rows)} = {rate:.1%} < 95%\n{table}"


def test_the_documented_table_lists_every_deviation_of_the_catalogue():
    documented = (REPO / "docs" / "detection.md").read_text(encoding="utf-8")
    missing = [entry.key for entry in catalogue() if f"`{entry.key}`" not in documented]
    assert not missing, f"docs/detection.md lacks {missing}"
