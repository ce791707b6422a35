"""`scim-conformance run --workers 2`: generated names never collide, the Allure results of the
workers land in one folder, and every scenario still removes what it created."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx

from conformance.engine.embedded import EmbeddedServer
from tests.perf.support import cli, contents, profile_for
from tests.support.runs import SCENARIOS

OKTA = str(SCENARIOS / "okta")


def _testcases(reports: Path) -> int:
    return len(ET.parse(reports / "junit.xml").getroot().findall(".//testcase"))


def _generated_names(reports: Path) -> set[str]:
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                     for p in (reports / "allure-results").glob("*-attachment*"))
    return set(re.findall(r"scimc-([a-z0-9]+)-w(\d+)-\d+", text))


def test_two_workers_on_the_embedded_target_pass_and_merge_their_results(tmp_path: Path):
    # Target embedded: each worker starts its own scim2-server (documented in docs/performance.md).
    reports = tmp_path / "reports"
    result = cli("run", "--target", "embedded", "--reports", str(reports), "--workers", "2", OKTA, timeout=180)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "2 workers" in result.stdout
    results = list((reports / "allure-results").glob("*-result.json"))
    assert len(results) == _testcases(reports) > 20  # one result per scenario x IdP, none lost, none twice
    tags = _generated_names(reports)
    assert {worker for _, worker in tags} == {"0", "1"}  # both workers ran scenarios...
    assert len({run for run, _ in tags}) == 1  # ...of one run, under one run id
    assert "scim-conformance summary" in result.stdout and re.search(r"okta\s+\d+\s+0\s", result.stdout)


def test_two_workers_on_one_shared_server_leave_it_as_it_was(
        scim_server: EmbeddedServer, scim_client: httpx.Client, tmp_path: Path):
    # okta-import pages through /Users and /Groups while the other worker's users come and go:
    # it passes all the same (engine/paging re-reads a list others changed between pages).
    before = contents(scim_client)
    reports = tmp_path / "reports"
    result = cli("run", "--target", profile_for(scim_server.base_url, tmp_path), "--reports", str(reports),
                 "--workers", "2", OKTA, timeout=180)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert len(list((reports / "allure-results").glob("*-result.json"))) == _testcases(reports) > 15
    assert contents(scim_client) == before
