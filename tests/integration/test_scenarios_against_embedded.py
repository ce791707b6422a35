"""The shipped scenarios against a real SCIM server (scim2-server) on loopback, run as a user runs them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx

from conformance.engine.embedded import EmbeddedServer, embedded_server
from tests.support.runs import DISTINCTIVE_TOKEN, embedded_target, everything_written, run_scenarios

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


OKTA_PUSH = "scenarios/okta/push-new-user.scenario.yaml"
ENTRA_CONNECTION = "scenarios/entra/test-connection-and-create.scenario.yaml"
TWO_FILES = (OKTA_PUSH, ENTRA_CONNECTION)


def _counts(output: str) -> dict[str, int]:
    """pytest's final tally: {'passed': 3, 'deselected': 1, ...}."""
    tally = re.findall(r"(\d+) (passed|failed|skipped|deselected|xfailed|xpassed|errors?)\b", output)
    return {word: int(number) for number, word in tally}


def test_every_shipped_scenario_passes_or_is_a_known_deviation(scim_server: EmbeddedServer, tmp_path: Path):
    target = embedded_target(scim_server.base_url, tmp_path)
    result = run_scenarios(target, tmp_path / "reports", "-rsx")
    assert result.code == 0, result.output
    counts = _counts(result.output)
    assert "failed" not in counts and "xpassed" not in counts, result.output
    assert counts["passed"] >= 20
    assert "okta-push-new-user[okta] PASSED" in result.output
    assert "okta-push-new-user[okta-aiw] PASSED" in result.output
    # A known deviation of scim2-server is visible, with its reason, not hidden.
    assert "XFAIL scenarios/okta/put-keeps-unmapped-attributes.scenario.yaml::okta-put-keeps-active[okta]" \
        " - known deviation of target 'embedded': scim2-server clears attributes a PUT leaves out" in result.output


def test_node_ids_name_the_file_the_scenario_and_the_idp(scim_server: EmbeddedServer, tmp_path: Path):
    result = run_scenarios(scim_server.base_url, tmp_path, "--collect-only", "-q", "-q")
    assert "scenarios/okta/push-new-user.scenario.yaml::okta-push-new-user[okta]" in result.output
    assert "scenarios/okta/push-new-user.scenario.yaml::okta-push-new-user[okta-aiw]" in result.output
    assert "scenarios/entra/test-connection-and-create.scenario.yaml::entra-test-connection-and-create[entra]" \
        in result.output


def test_k_selects_scenarios_by_name(scim_server: EmbeddedServer, tmp_path: Path):
    result = run_scenarios(scim_server.base_url, tmp_path, "-k", "okta-push-new-user", paths=TWO_FILES)
    assert result.code == 0, result.output
    counts = _counts(result.output)
    assert counts["passed"] == 2 and counts["deselected"] >= 1, result.output


def test_m_selects_scenarios_by_tag_and_by_idp(scim_server: EmbeddedServer, tmp_path: Path):
    by_tag = run_scenarios(scim_server.base_url, tmp_path / "a", "-m", "connection", paths=TWO_FILES)
    assert by_tag.code == 0 and "entra-test-connection-and-create[entra] PASSED" in by_tag.output
    assert "okta-push-new-user" not in by_tag.output.split("short test summary")[0].split("collected")[-1]
    by_idp = run_scenarios(scim_server.base_url, tmp_path / "b", "-m", "okta_aiw", paths=TWO_FILES)
    assert _counts(by_idp.output).get("passed") == 1, by_idp.output
    assert "okta-push-new-user[okta-aiw] PASSED" in by_idp.output


def test_idp_option_replays_only_that_idp(scim_server: EmbeddedServer, tmp_path: Path):
    result = run_scenarios(scim_server.base_url, tmp_path, "--idp", "okta", paths=TWO_FILES)
    assert result.code == 0, result.output
    assert "okta-push-new-user[okta] PASSED" in result.output
    assert "[okta-aiw]" not in result.output and "entra-test-connection" not in result.output
    assert _counts(result.output) == {"passed": 1}


def test_a_run_writes_allure_results_with_labels_and_junit_xml(scim_server: EmbeddedServer, tmp_path: Path):
    result = run_scenarios(scim_server.base_url, tmp_path, "--idp", "okta,okta-aiw,entra", paths=TWO_FILES)
    assert result.code == 0, result.output
    results = list((tmp_path / "allure-results").glob("*-result.json"))
    assert len(results) == 3
    text = "\n".join(p.read_text() for p in results)
    for label in (
        # Behaviors: one epic per IdP (variants included), one feature per sequence, the variant as story.
        '"name": "epic", "value": "Okta"', '"name": "epic", "value": "Microsoft Entra ID"',
        '"name": "feature", "value": "Okta pushes a new user (lookup by userName finds nothing, create, read back)"',
        '"name": "story", "value": "Okta (AIW app)"', '"name": "severity", "value": "critical"',
        '"name": "parentSuite", "value": "okta"',
    ):
        assert label in text
    assert '"name": "epic", "value": "Okta (AIW app)"' not in text
    assert '"name": "2. create the user with Okta\'s POST"' in text  # each scenario step is an Allure step
    junit = ET.parse(tmp_path / "junit.xml").getroot()
    assert junit.find("testsuite").get("tests") == "3"


def test_the_token_appears_nowhere_in_reports_or_console(scim_server: EmbeddedServer, tmp_path: Path):
    result = run_scenarios(scim_server.base_url, tmp_path, "-v", paths=TWO_FILES)
    assert result.code == 0, result.output
    written = everything_written(tmp_path)
    assert "Authorization" in written  # the header is recorded, its value is not
    assert DISTINCTIVE_TOKEN not in written
    assert DISTINCTIVE_TOKEN not in result.output


def test_the_token_appears_nowhere_when_a_scenario_fails(scim_server: EmbeddedServer, tmp_path: Path):
    # A wrong base path makes every step fail: failure reports and curl lines are written too.
    result = run_scenarios(scim_server.base_url + "/nope", tmp_path, paths=TWO_FILES)
    assert result.code == 1
    assert "Reproduce with:" in result.output and "$SCIM_TOKEN" in result.output
    assert DISTINCTIVE_TOKEN not in result.output
    assert DISTINCTIVE_TOKEN not in everything_written(tmp_path)


def _snapshot(client: httpx.Client) -> dict[str, list[dict]]:
    return {
        endpoint: sorted(client.get(endpoint, params={"count": 1000}).json().get("Resources", []),
                         key=lambda r: r["id"])
        for endpoint in ("Users", "Groups")
    }


def test_a_run_leaves_only_what_existed_before_and_leaves_it_unchanged(tmp_path: Path):
    with embedded_server(DISTINCTIVE_TOKEN) as server, httpx.Client(
        base_url=server.base_url + "/", headers={"Authorization": f"Bearer {DISTINCTIVE_TOKEN}"}, timeout=10
    ) as client:
        existing = client.post("Users", json={"schemas": [USER_SCHEMA], "userName": "pre.existing@example.com",
                                              "displayName": "Pre Existing", "active": True})
        assert existing.status_code == 201
        group = client.post("Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                            "displayName": "Pre-existing group",
                                            "members": [{"value": existing.json()["id"]}]})
        assert group.status_code == 201
        before = _snapshot(client)

        result = run_scenarios(embedded_target(server.base_url, tmp_path), tmp_path / "reports")

        assert result.code == 0, result.output
        assert _snapshot(client) == before  # same resources, same meta.version and lastModified


def test_a_failing_run_still_removes_what_it_created(tmp_path: Path):
    with embedded_server(DISTINCTIVE_TOKEN) as server, httpx.Client(
        base_url=server.base_url + "/", headers={"Authorization": f"Bearer {DISTINCTIVE_TOKEN}"}, timeout=10
    ) as client:
        # A copy of the Okta scenario whose last expectation cannot hold: it fails after creating a user.
        broken = tmp_path / "scenarios" / "okta"
        broken.mkdir(parents=True)
        (tmp_path / "scenarios" / "shared").symlink_to(Path(__file__).resolve().parents[2] / "scenarios" / "shared")
        source = (Path(__file__).resolve().parents[2] / "scenarios/okta/push-new-user.scenario.yaml").read_text()
        (broken / "push-new-user.scenario.yaml").write_text(
            source.replace("json: {totalResults: 1, Resources: [{id:", "json: {totalResults: 42, Resources: [{id:"))
        result = run_scenarios(server.base_url, tmp_path / "reports",
                               paths=(str(broken / "push-new-user.scenario.yaml"),))
        assert result.code == 1, result.output
        assert 'Step 4 "the lookup Okta repeats now finds the user once"' in result.output
        assert "2 failed" in result.output
        assert client.get("Users").json()["totalResults"] == 0
