"""The report people read agrees with what the target did wrong, and works offline in a browser.

One run against the real embedded server behind a proxy with three known deviations:
- `deactivate-ignored` (what Okta needs): okta-deactivate-reactivate fails;
- `create-drops-location` (RFC 7644 §3.3): rfc-users-create fails;
- `list-html` (/Groups answers an HTML page): okta-test-credentials fails, as "not SCIM".
`scim-conformance report` must then sort them into those Allure categories, mark those cells
failed in the matrix, certify no IdP, and say so on the badges; the HTML report, opened in
headless Chromium without network, must show the scenarios and a failure's attachments.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

from conformance.engine.embedded import EmbeddedServer
from conformance.reporting.allure_html import AllureUnavailable, find_allure
from conformance.reporting.matrix import validate_matrix
from tests.support.deviating_proxy import CATALOGUE, DeviatingProxy
from tests.support.report_page import embedded_data, report_test_cases
from tests.support.runs import DISTINCTIVE_TOKEN, REPO, embedded_target, everything_written, run_scenarios

SCENARIOS = (
    "scenarios/okta/deactivate-reactivate.scenario.yaml",
    "scenarios/okta/push-new-user.scenario.yaml",
    "scenarios/okta/test-credentials.scenario.yaml",
    "scenarios/rfc/users-create.scenario.yaml",
)
DEVIATIONS = ("deactivate-ignored", "create-drops-location", "list-html")


@pytest.fixture(scope="module")
def allure_cli() -> Path:
    try:
        return find_allure(REPO)
    except AllureUnavailable as exc:
        if os.environ.get("CI") or os.environ.get("ALLURE_BIN"):
            pytest.fail(f"the README's test command installs the Allure CLI: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def chromium() -> str:
    found = os.environ.get("CHROMIUM_BIN") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found and Path(found).exists():
        return found
    if os.environ.get("CI") or os.environ.get("CHROMIUM_BIN"):
        pytest.fail("the README's test command installs Debian's chromium (make test); it is missing")
    pytest.skip("chromium is not installed (make test installs it)")


@pytest.fixture(scope="module")
def report(scim_server: EmbeddedServer, allure_cli: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run with three deviations, then `scim-conformance report` on its results."""
    reports = tmp_path_factory.mktemp("reports")
    with DeviatingProxy(scim_server.base_url, [CATALOGUE[name] for name in DEVIATIONS]) as proxy:
        target = embedded_target(proxy.url, reports / "profile")
        run = run_scenarios(target, reports, "--idp", "okta,rfc", paths=SCENARIOS)
    assert run.code == 1, run.output
    env = {**os.environ, "ALLURE_BIN": str(allure_cli), "SCIM_TOKEN": DISTINCTIVE_TOKEN}
    built = subprocess.run(
        [sys.executable, "-m", "conformance", "report", "--results", str(reports / "allure-results"),
         "--output", str(reports / "html")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (reports / "report-output.txt").write_text(built.stdout + built.stderr, encoding="utf-8")
    return reports


def test_categories_sort_each_failure_by_what_it_breaks(report: Path):
    data = embedded_data(report / "html" / "index.html")

    def leaves(node: dict) -> list[str]:  # category -> message group -> test results
        children = node.get("children")
        return [node["name"]] if children is None else [n for c in children for n in leaves(c)]

    categories = {child["name"]: sorted(leaves(child)) for child in data["data/categories.json"]["children"]}
    assert categories == {
        "target deviates from what Okta needs": ["okta-deactivate-reactivate[okta]"],
        "target deviates from RFC 7643/7644": ["rfc-users-create[rfc]"],
        "target unreachable or not SCIM": ["okta-test-credentials[okta]"],
    }


def test_the_matrix_and_badges_agree_with_the_deviations(report: Path):
    matrix = json.loads((report / "matrix.json").read_text(encoding="utf-8"))
    assert validate_matrix(matrix) == []
    cells = {(s["id"], idp): r["status"] for s in matrix["scenarios"] for idp, r in s["results"].items()}
    assert cells == {
        ("okta-deactivate-reactivate", "okta"): "fail",
        ("okta-push-new-user", "okta"): "pass",
        ("okta-test-credentials", "okta"): "fail",
        ("rfc-users-create", "rfc"): "fail",
    }
    levels = {idp["id"]: (idp["level"], idp["passed"], idp["ran"]) for idp in matrix["idps"]}
    assert levels == {"okta": ("not certified", 1, 3), "rfc": ("not certified", 0, 1)}
    okta_badge = (report / "badges" / "okta.svg").read_text(encoding="utf-8")
    assert "Okta: 1/3" in okta_badge and "#c62828" in okta_badge  # red: not certified
    markdown = (report / "matrix.md").read_text(encoding="utf-8")
    assert "| okta | not certified | 1/3 | okta-deactivate-reactivate, okta-test-credentials | - |" in markdown
    output = (report / "report-output.txt").read_text(encoding="utf-8")
    assert "okta               not certified; must not passed: okta-deactivate-reactivate, " \
           "okta-test-credentials" in output


def test_environment_names_the_target_and_what_it_advertises_without_secrets(report: Path):
    env = (report / "allure-results" / "environment.properties").read_text(encoding="utf-8")
    assert "idp.profiles=okta, rfc" in env
    assert "serviceProviderConfig.patch.supported=true" in env
    assert "target=http\\://127.0.0.1" in env or "target=http://127.0.0.1" in env
    assert DISTINCTIVE_TOKEN not in everything_written(report)


def test_each_failure_carries_request_response_diff_and_curl(report: Path):
    results = [json.loads(p.read_text()) for p in (report / "allure-results").glob("*-result.json")]
    failed = next(r for r in results if r["name"] == "okta-deactivate-reactivate[okta]")

    def attachments(steps: list[dict]) -> list[str]:
        names = []
        for step in steps:
            names += [a["name"] for a in step.get("attachments", [])] + attachments(step.get("steps", []))
        return names

    names = attachments(failed["steps"])
    assert {"failure", "expected vs actual", "diff (expected -> actual)"} <= set(names)
    assert any(re.fullmatch(r"GET /v2/Users/\w+ -> 200", n) for n in names), names
    exchange = next(a for step in failed["steps"] for a in step.get("attachments", [])
                    if a["name"].startswith("PATCH /v2/Users/"))
    text = (report / "allure-results" / exchange["source"]).read_text(encoding="utf-8")
    assert text.startswith("PATCH http://127.0.0.1:") and "\nHTTP 2" in text
    assert '"active": false' in text  # the request body
    assert "\nReproduce with:\ncurl -sS -i -X PATCH " in text and "$SCIM_TOKEN" in text
    diff = next(a for step in failed["steps"] for a in step.get("attachments", [])
                if a["name"] == "diff (expected -> actual)")
    text = (report / "allure-results" / diff["source"]).read_text(encoding="utf-8")
    assert '-  "active": false' in text and '+  "active": true' in text


def _chromium(chromium: str, url: str, profile: Path, *extra: str) -> str:
    # Flags for a closed network (no background fetches), as root in a container, no GPU.
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--virtual-time-budget=15000", *extra, url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    return done.stdout


def _visible_text(dom: str) -> str:
    dom = re.sub(r"<(style|script)\b.*?</\1>", " ", dom, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom)))


def test_the_html_report_shows_scenarios_and_a_failures_attachments_offline(
    report: Path, chromium: str, tmp_path: Path
):
    page = report / "html" / "index.html"
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']https?://""", page.read_text(encoding="utf-8"))
    data = embedded_data(page)
    failed = next(uid for name, case in data.items() if name.startswith("data/test-cases/")
                  and case["name"] == "okta-deactivate-reactivate[okta]" for uid in [case["uid"]])
    behaviors = _visible_text(_chromium(chromium, f"{page.as_uri()}#behaviors", tmp_path / "p1", "--dump-dom"))
    assert "Behaviors" in behaviors and "Okta" in behaviors and "RFC 7644 client" in behaviors
    result_url = f"{page.as_uri()}#testresult/{failed}"
    detail = _visible_text(_chromium(chromium, result_url, tmp_path / "p2", "--dump-dom"))
    assert "okta-deactivate-reactivate[okta]" in detail
    assert "$.active: expected false, got true" in detail
    assert "Category: target deviates from what Okta needs" in detail
    assert re.search(r"PATCH /v2/Users/\w+ -> 2\d\d", detail), detail[:3000]
    shot = tmp_path / "failure.png"
    _chromium(chromium, result_url, tmp_path / "p3", f"--screenshot={shot}", "--window-size=1400,1000")
    assert shot.is_file() and shot.stat().st_size > 20_000, "the screenshot is missing or blank"
    assert DISTINCTIVE_TOKEN not in detail


VARIANT_SCENARIOS = ("scenarios/okta/push-new-user.scenario.yaml", "scenarios/okta/deactivate-reactivate.scenario.yaml")


@pytest.fixture(scope="module")
def variants(scim_server: EmbeddedServer, allure_cli: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`scim-conformance run ... --html` of two Okta scenarios, each replayed as okta and okta-aiw."""
    reports = tmp_path_factory.mktemp("variants")
    target = embedded_target(scim_server.base_url, reports / "profile")
    env = {**os.environ, "ALLURE_BIN": str(allure_cli), "SCIM_TOKEN": DISTINCTIVE_TOKEN}
    run = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--target", target, *VARIANT_SCENARIOS, "--idp", "okta,okta-aiw",
         "--reports", str(reports), "--html"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return reports


def _pytest_items(junit: Path) -> int:
    return len(re.findall(r"<testcase\b", junit.read_text(encoding="utf-8")))


def test_each_idp_variant_is_a_test_case_of_its_own_in_the_html_report(variants: Path):
    total, names = report_test_cases(variants / "html" / "index.html")
    assert total == len(names) == _pytest_items(variants / "junit.xml") == 4
    assert names == ["okta-deactivate-reactivate[okta-aiw]", "okta-deactivate-reactivate[okta]",
                     "okta-push-new-user[okta-aiw]", "okta-push-new-user[okta]"]


def test_results_named_as_allure_pytest_names_them_would_hide_a_variant(
    variants: Path, allure_cli: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The check above can fail: the same results with the identity allure-pytest gives a test
    (node id without `[...]`, no IdP parameter) make a report of 2 test cases and 2 retries."""
    from allure_commons.utils import md5

    from conformance.reporting.allure_html import build_html

    shadow = tmp_path / "allure-results"
    shutil.copytree(variants / "allure-results", shadow)
    for path in shadow.glob("*-result.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        result["fullName"] = result["fullName"].rpartition("[")[0]
        result["parameters"] = [p for p in result.get("parameters", []) if p["name"] != "IdP"]
        result["testCaseId"] = result["historyId"] = md5(result["fullName"])
        path.write_text(json.dumps(result), encoding="utf-8")
    monkeypatch.setenv("ALLURE_BIN", str(allure_cli))
    data = embedded_data(build_html(shadow, tmp_path / "html"))
    assert data["widgets/summary.json"]["statistic"]["total"] == 2 < _pytest_items(variants / "junit.xml")


def test_the_overview_the_report_opens_with_says_where_each_idp_stands(
    report: Path, variants: Path, chromium: str, tmp_path: Path
):
    overview = _visible_text(_chromium(chromium, (report / "html" / "index.html").as_uri(), tmp_path / "p1",
                                       "--dump-dom"))
    assert "SCIM conformance: no IdP certified (of 2)" in overview
    assert "verdict.okta not certified (1/3 passed)" in overview
    assert "verdict.rfc not certified (0/1 passed)" in overview
    overview = _visible_text(_chromium(chromium, (variants / "html" / "index.html").as_uri(), tmp_path / "p2",
                                       "--dump-dom"))
    assert "SCIM conformance: certified for okta, okta-aiw (2 of 2 IdPs)" in overview
    assert re.search(r"verdict\.okta-aiw certified\S* .*\(2/2 passed\)", overview), overview[:2000]
