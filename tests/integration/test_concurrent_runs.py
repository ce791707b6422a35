"""Two full runs at once against one real server give the verdicts of one run alone.

Each run creates and deletes users and groups while the other pages through /Users and /Groups
(okta-import, entra-validator-pagination); RFC 7644 §3.4.2.4 lets the pages shift meanwhile. The
verdict of every item (scenario x IdP, read from junit.xml) must not depend on the server being
otherwise idle.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.engine.embedded import start_embedded, stop_embedded
from tests.support.runs import DISTINCTIVE_TOKEN, REPO

RUN_LIMIT = 420  # seconds for one full run; two at once share the cores
PAGING_ITEMS = ("okta-import[okta]", "okta-import[okta-aiw]", "entra-validator-pagination[entra]",
                "entra-validator-pagination[entra-compliant]")


def _start_run(base_url: str, reports: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SCIM_CONFORMANCE_RUN_ID", "PYTEST_ADDOPTS") and not k.startswith("PYTEST_XDIST_")}
    env["SCIM_TOKEN"] = DISTINCTIVE_TOKEN
    return subprocess.Popen([sys.executable, "-m", "conformance", "run", "--target", base_url,
                             "--reports", str(reports)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _finish(run: subprocess.Popen[bytes]) -> None:
    try:
        run.wait(RUN_LIMIT)
    except subprocess.TimeoutExpired:
        run.kill()
        run.wait()
        raise


def _verdicts(reports: Path) -> dict[str, str]:
    """Item name -> passed, or the JUnit element (and type) that says otherwise."""
    verdicts: dict[str, str] = {}
    for case in ET.parse(reports / "junit.xml").getroot().iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = f"{child.tag} {child.get('type') or ''}".strip()
        verdicts[str(case.get("name"))] = outcome
    return verdicts


def _runs(tmp_path: Path, names: tuple[str, ...]) -> list[dict[str, str]]:
    """Full runs, all started at once against one fresh server; the verdicts of each."""
    server = start_embedded(DISTINCTIVE_TOKEN)
    try:
        runs = [_start_run(server.base_url, tmp_path / name) for name in names]
        try:
            for run in runs:
                _finish(run)
        finally:
            for run in runs:
                if run.poll() is None:
                    run.kill()
                    run.wait()
    finally:
        stop_embedded(server)
    return [_verdicts(tmp_path / name) for name in names]


@pytest.mark.timeout(3 * RUN_LIMIT)
def test_two_concurrent_full_runs_give_the_verdicts_of_one_run_alone(tmp_path: Path):
    [alone] = _runs(tmp_path, ("alone",))
    first, second = _runs(tmp_path, ("first", "second"))
    assert len(alone) > 100
    for item in PAGING_ITEMS:
        assert alone[item] == "passed", f"{item}: {alone[item]}"  # else the comparison shows nothing
    for together in (first, second):
        differ = {item: (alone.get(item), together.get(item)) for item in alone.keys() | together.keys()
                  if alone.get(item) != together.get(item)}
        assert differ == {}, f"verdicts differ (alone, concurrent): {differ}"
