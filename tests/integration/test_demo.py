"""`scim-conformance demo` end to end: embedded server, every scenario, reports, offline HTML."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.reporting.allure_html import AllureUnavailable, find_allure
from tests.support.report_page import report_test_cases
from tests.support.runs import DISTINCTIVE_TOKEN, REPO, everything_written


@pytest.fixture
def allure_cli() -> Path:
    try:
        return find_allure(REPO)
    except AllureUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the Allure CLI (make test installs it): {exc}")
        pytest.skip(str(exc))


def test_demo_runs_every_scenario_and_prints_where_the_offline_report_is(allure_cli: Path, tmp_path: Path):
    env = {**os.environ, "SCIM_TOKEN": DISTINCTIVE_TOKEN, "ALLURE_BIN": str(allure_cli)}
    result = subprocess.run(
        [sys.executable, "-m", "conformance", "demo", "--reports", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Every IdP row: some passed, none failed; scim2-server's known deviations are counted apart.
    for idp in ("okta", "okta-aiw", "entra", "entra-compliant"):
        assert re.search(rf"^  {idp}\s+[1-9]\d*\s+0\s+\d+\s+\d+$", output, re.MULTILINE), output
    page = tmp_path / "html" / "index.html"
    assert f"HTML report:    {page.resolve()}" in output
    html = page.read_text(encoding="utf-8")
    # Opens offline: one file, nothing fetched from the network.
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']https?://""", html)
    assert (tmp_path / "junit.xml").is_file()
    # One test case per item pytest ran: IdP variants (okta / okta-aiw, ...) are not filed as retries.
    items = len(re.findall(r"<testcase\b", (tmp_path / "junit.xml").read_text(encoding="utf-8")))
    total, names = report_test_cases(page)
    assert total == len(names) == items, (total, len(names), items)
    assert {"okta-push-new-user[okta]", "okta-push-new-user[okta-aiw]"} <= set(names)
    assert DISTINCTIVE_TOKEN not in output + everything_written(tmp_path)
