"""Detection power of the OneLogin, Ping, JumpCloud and Google suites: each habit a server mishandles
fails the right scenario.

A deviating proxy in front of the real embedded scim2-server reproduces one mishandling at a time
(tests/support/deviations_idps.py). For each, one scenario replayed as one IdP profile must fail,
at the step that exercises the habit, with a report that says what went wrong (and, where the IdP's
reaction to the status is documented, that reaction). Each IdP's most distinctive habit has one:
OneLogin's empty User-Agent, Ping's `username Eq` filter, JumpCloud's re-sent member adds and
value-array removes, Google's `GET /Users?count=1` probe.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.engine.embedded import EmbeddedServer
from tests.support.detection import Expectation, assert_caught, run_with_deviation
from tests.support.deviations_idps import IDPS_DEVIATIONS, VALUE_ARRAY_REMOVE_SHIM
from tests.support.runs import REPO

ONELOGIN = "scenarios/onelogin/"
PING = "scenarios/ping/"
JUMPCLOUD = "scenarios/jumpcloud/"
GOOGLE = "scenarios/google/"
FAMILIES = (ONELOGIN, PING, JUMPCLOUD, GOOGLE)
MEMBERS_STEP = '"read the group back and compare its members exactly"'


def _expect(name: str, scenario: str, idp: str, step: str, *words: str,
            capabilities: dict[str, bool] | None = None) -> Expectation:
    return Expectation(IDPS_DEVIATIONS[name], scenario, idp, step, words, capabilities or {})


IDPS_EXPECTATIONS: list[Expectation] = [
    # OneLogin: the empty User-Agent on group membership PATCHes (onelogin-empty-user-agent) is its most
    # distinctive habit.
    _expect("empty-user-agent-rejected", ONELOGIN + "group-membership.scenario.yaml", "onelogin",
            'Step 4 "OneLogin adds both users to the group (PATCH, empty User-Agent)"',
            "expected status 200 or 204, got 403", "requests without a User-Agent are not accepted"),
    _expect("group-patch-not-allowed", ONELOGIN + "group-membership.scenario.yaml", "onelogin",
            'Step 4 "OneLogin adds both users to the group (PATCH, empty User-Agent)"',
            "expected status 200 or 204, got 405", "OneLogin does not fall back to another method"),
    _expect("trailing-ampersand-rejected", ONELOGIN + "create-user.scenario.yaml", "onelogin",
            "Step 1 \"OneLogin looks the user up with its form-encoded filter (not there yet)\"",
            "expected status 200, got 400", "empty parameter"),
    # Ping: `username Eq "%s"` (filter-unusual-case) is its most distinctive habit.
    _expect("filter-operator-case-sensitive", PING + "create-user.scenario.yaml", "ping",
            'Step 1 "Ping matches the user with `username Eq "..."` (not there yet)"',
            "expected status 200, got 400", "Unknown filter operator 'Eq'"),
    _expect("filter-attribute-case-sensitive", PING + "create-user.scenario.yaml", "ping",
            'Step 3 "the same filter expression now finds exactly the new user"',
            "$.totalResults: expected 1, got 0"),
    _expect("user-put-not-supported", PING + "update-user.scenario.yaml", "ping",
            'Step 2 "Ping PUTs the user with a changed name, display name and email"',
            "expected status 200, got 405"),
    _expect("create-ignores-active-false", PING + "provision-disabled-user.scenario.yaml", "ping",
            'Step 1 "Ping creates the disabled user with active false"', "$.active: expected false, got true"),
    _expect("group-list-requires-filter", PING + "group-sync.scenario.yaml", "ping",
            'Step 4 "Ping reads all groups, page by page, to match the group on its side"',
            "resources this scenario created were not among the 0 read"),
    # JumpCloud: re-sent member adds (group-patch-repeats) and value-array removes
    # (member-remove-value-array).
    _expect("repeated-member-add-conflict", JUMPCLOUD + "group-sync.scenario.yaml", "jumpcloud",
            'Step 6 "JumpCloud re-sends the same add twice on later change events; each must succeed"',
            "expected status 200 or 204, got 409", "a 409 on a re-sent member add"),
    _expect("repeated-member-add-duplicates", JUMPCLOUD + "group-sync.scenario.yaml", "jumpcloud",
            f"Step 7 {MEMBERS_STEP}", "member(s) listed twice"),
    _expect("member-remove-value-array-ignored", JUMPCLOUD + "group-member-remove.scenario.yaml", "jumpcloud",
            f"Step 5 {MEMBERS_STEP}", "1 unexpected member(s)"),
    _expect("user-delete-not-allowed", JUMPCLOUD + "test-connection.scenario.yaml", "jumpcloud",
            'Step 5 "JumpCloud deletes the test user"',
            "expected status 204, got 405", "the Test Connection user is deactivated instead"),
    # Google: the GET /Users?count=1 connection probe.
    _expect("users-list-requires-filter", GOOGLE + "connection-check.scenario.yaml", "google",
            'Step 1 "Google probes the endpoint with GET /Users?count=1"',
            "expected status 200, got 400", "A filter is required", "the endpoint step fails"),
    _expect("count-requires-start-index", GOOGLE + "connection-check.scenario.yaml", "google",
            'Step 1 "Google probes the endpoint with GET /Users?count=1"',
            "expected status 200, got 400", "count requires startIndex"),
]


@pytest.mark.parametrize("expectation", IDPS_EXPECTATIONS, ids=lambda e: e.id)
def test_an_idp_scenario_fails_at_its_step_on_a_target_that_breaks_it(
    expectation: Expectation, scim_server: EmbeddedServer, tmp_path: Path
):
    result = run_with_deviation(scim_server.base_url, tmp_path, [expectation.deviation], expectation.scenario,
                                expectation.idp, expectation.capabilities)
    assert_caught(expectation, result)


def test_every_deviation_of_the_catalogue_has_an_expectation():
    named = {e.deviation.name for e in IDPS_EXPECTATIONS}
    assert set(IDPS_DEVIATIONS) - named == set()


def test_every_family_has_at_least_one_expectation():
    assert {e.scenario.split("/")[1] for e in IDPS_EXPECTATIONS} == {f.split("/")[1] for f in FAMILIES}
    for scenario in {e.scenario for e in IDPS_EXPECTATIONS}:
        assert (REPO / scenario).is_file(), scenario


def test_jumpcloud_test_connection_deactivates_when_the_target_cannot_delete_users(
    scim_server: EmbeddedServer, tmp_path: Path
):
    # The same 405 on DELETE /Users, but the target profile says so: the scenario takes the
    # fallback JumpCloud documents (deactivate the test user) and passes.
    result = run_with_deviation(scim_server.base_url, tmp_path, [IDPS_DEVIATIONS["user-delete-not-allowed"]],
                                JUMPCLOUD + "test-connection.scenario.yaml", "jumpcloud", {"delete_users": False})
    assert result.code == 0, result.output[-3000:]
    assert "1 passed" in result.output, result.output[-3000:]


def test_jumpcloud_value_array_remove_passes_on_a_server_that_supports_it(
    scim_server: EmbeddedServer, tmp_path: Path
):
    # scim2-server refuses the form (a known deviation); with it supported the scenario passes,
    # so the expectation above is about the ignored remove, not about the refusal.
    result = run_with_deviation(scim_server.base_url, tmp_path, [VALUE_ARRAY_REMOVE_SHIM],
                                JUMPCLOUD + "group-member-remove.scenario.yaml", "jumpcloud")
    assert result.code == 0, result.output[-3000:]
    assert "1 passed" in result.output, result.output[-3000:]
