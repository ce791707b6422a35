"""`scim-conformance list --target T`: which scenarios run on a target, which are skipped and why.

The plan is computed without a server (conformance.pytest_plugin.selection); one test checks that it says
exactly what a real run against the embedded server does.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conformance.engine.embedded import EmbeddedServer
from conformance.engine.profiles import IdpProfile, load_idp_profiles, load_target_profile
from conformance.engine.scenario.loader import load_scenario
from conformance.pytest_plugin.selection import KNOWN, RUN, SKIP, plan
from tests.support.runs import REPO, embedded_target, run_scenarios

SUITES = ("scenarios/rfc", "scenarios/troubleshooting")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conformance", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)


def _idps() -> dict[str, IdpProfile]:
    return load_idp_profiles(REPO / "profiles")


def _scenarios(*folders: str):
    idps = _idps()
    return [load_scenario(path, idps) for folder in folders for path in sorted((REPO / folder).glob("*.scenario.yaml"))]


def test_list_target_grafana_shows_what_runs_what_is_skipped_and_why():
    result = _cli("list", "--target", "grafana")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Target grafana: https://grafana.example.com/apis/scim.grafana.app/v0alpha1/namespaces/default")
    assert "Capabilities: delete_groups, filter, groups, links_by_email, patch, users" in out
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith(("RUN ", "SKIP ", "XFAIL "))}
    # Runs: what Grafana can do, including the link-by-email branch Okta needs.
    assert lines["okta-push-new-user[okta]"].startswith("RUN")
    assert lines["okta-link-by-email[okta]"].startswith("RUN")
    assert lines["rfc-filter-operators[rfc]"].startswith("RUN")
    # Skipped, with the capability that is missing (Grafana never deletes users; no ETags).
    assert re.search(r"^SKIP\s+entra-hard-delete\[entra\]\s+target 'grafana' does not meet delete_users "
                     r"\(scenario requires it\)$", out, re.M)
    assert re.search(r"^SKIP\s+rfc-etag\[rfc\]\s+target 'grafana' does not meet etag \(scenario requires it\)$",
                     out, re.M)
    assert re.search(r"^SKIP\s+troubleshooting-discovery-without-auth\[troubleshooting\]\s+target 'grafana' does not "
                     r"meet discovery_without_auth", out, re.M)
    # Runs, without the steps that need a capability Grafana lacks.
    assert re.search(r"^RUN\s+troubleshooting-stale-ids\[troubleshooting\]\s+"
                     r"skipped steps: 3 need\(s\) 'delete_users'$", out, re.M)
    tally = re.search(r"^(\d+) item\(s\): (\d+) run, (\d+) skipped, 0 known deviation\(s\) \(XFAIL\)$", out, re.M)
    assert tally and int(tally[1]) == int(tally[2]) + int(tally[3]) and int(tally[3]) > 0


def test_list_target_gitlab_shows_its_documented_deviations_as_xfail():
    result = _cli("list", "--target", "gitlab", "--idp", "rfc", *SUITES)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^XFAIL\s+rfc-users-read-replace-delete\[rfc\]\s+known deviation of target 'gitlab': GitLab "
                     r"documents no PUT", result.stdout, re.M)
    assert re.search(r"^SKIP\s+rfc-groups-crud\[rfc\]\s+target 'gitlab' does not meet groups", result.stdout, re.M)
    assert re.search(r"^SKIP\s+rfc-filter-operators\[rfc\]\s+target 'gitlab' does not meet not filter_eq_only",
                     result.stdout, re.M)
    assert "troubleshooting-" not in result.stdout  # --idp rfc


def test_list_with_an_unknown_target_is_a_usage_error():
    result = _cli("list", "--target", "no-such-target")
    assert result.returncode == 2
    assert "no-such-target" in result.stderr and "known profiles" in result.stderr


def test_the_plan_follows_requires_expected_failures_and_when():
    scenarios = _scenarios("scenarios/rfc")
    target = load_target_profile(REPO / "profiles/targets/gitlab.yaml")
    items = {item.node: item for item in plan(scenarios, target)}
    assert items["rfc-bulk[rfc]"].outcome == SKIP
    assert items["rfc-put-read-only-ignored[rfc]"].outcome == KNOWN
    assert items["rfc-filter-eq-only[rfc]"].outcome == RUN
    assert items["rfc-error-not-found[rfc]"].skipped_steps == ()  # gitlab: patch, delete_users and filter
    embedded = load_target_profile(REPO / "profiles/targets/embedded.yaml")
    assert {i.node for i in plan(scenarios, embedded, idps=["okta"])} == set()


def test_the_plan_is_what_a_run_does(scim_server: EmbeddedServer, tmp_path: Path):
    profile = embedded_target(scim_server.base_url, tmp_path)
    planned = plan(_scenarios(*SUITES), load_target_profile(Path(profile)))
    result = run_scenarios(profile, tmp_path / "reports", paths=SUITES)
    ran = dict(re.findall(r"::(\S+) (PASSED|FAILED|SKIPPED|XFAIL|XPASS)", result.output))
    expected = {RUN: "PASSED", SKIP: "SKIPPED", KNOWN: "XFAIL"}
    assert {item.node: expected[item.outcome] for item in planned} == ran
