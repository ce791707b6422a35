"""Detection power of the Entra suite: each Entra quirk a server mishandles fails the right scenario.

A deviating proxy in front of the real embedded scim2-server reproduces one mishandling at a time
(tests/support/deviations_entra.py). For each, one Entra scenario replayed as one IdP profile must
fail, at the step that names the quirk, with a report that says what went wrong.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.engine.embedded import EmbeddedServer
from tests.support.detection import Expectation, assert_caught, run_with_deviation
from tests.support.deviating_proxy import DeviatingProxy
from tests.support.deviations_entra import ENTRA_DEVIATIONS
from tests.support.runs import run_scenarios

CREATE = "scenarios/entra/test-connection-and-create.scenario.yaml"
CONNECTION = "scenarios/entra/test-connection.scenario.yaml"
UPDATE = "scenarios/entra/update-user.scenario.yaml"
DISABLE = "scenarios/entra/disable-user.scenario.yaml"
GROUPS = "scenarios/entra/groups.scenario.yaml"
REMOVE_MEMBERS = "scenarios/entra/group-remove-members.scenario.yaml"
NULLS = "scenarios/entra/null-values.scenario.yaml"
PAGINATION = "scenarios/entra/validator-pagination.scenario.yaml"

UPDATE_STEP = 'Step 3 "update name, emails, externalId and enterprise attributes in one PATCH"'
DISABLED_READ_STEP = 'Step 6 "the disabled user stays readable, with active the boolean false"'


def _expect(name: str, scenario: str, idp: str, step: str, *words: str) -> Expectation:
    return Expectation(ENTRA_DEVIATIONS[name], scenario, idp, step, words)


ENTRA_EXPECTATIONS: list[Expectation] = [
    # The four the issue names.
    _expect("false-string-treated-as-true", DISABLE, "entra", DISABLED_READ_STEP,
            "$.active: expected false, got true"),
    _expect("capitalised-op-rejected", UPDATE, "entra", UPDATE_STEP,
            "expected status 200 or 204, got 400", "Unsupported operation 'Replace'",
            "retried in later sync cycles"),
    _expect("pathless-patch-ignored", UPDATE, "entra-compliant",
            'Step 4 "displayName, name.givenName, name.familyName and externalId read back changed',
            '$.displayName: expected', 'aadOptscim062020: path-less "replace" with dotted keys'),
    _expect("work-email-filter-path-dropped", UPDATE, "entra",
            'Step 5 "the work email was replaced through the filter path emails[type eq "work"].value"',
            '$.emails[0]: no item matches {"type": "work"'),
    # The other Entra behaviours.
    _expect("string-boolean-rejected", DISABLE, "entra",
            'Step 5 "disable the user: active "False" (a string) as entra, false as entra-compliant"',
            "expected status 200 or 204, got 400", "'False' is not a boolean"),
    _expect("enterprise-urn-path-rejected", UPDATE, "entra-compliant", UPDATE_STEP,
            "expected status 200 or 204, got 400",
            "Unknown attribute path 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber'"),
    _expect("null-values-ignored", NULLS, "entra",
            'Step 6 "after the empty-string PATCH none of the old values is left"',
            "body contains excluded value #1"),
    _expect("empty-filter-404", CONNECTION, "entra",
            'Step 1 "test connection with userName as the matching attribute"',
            "expected status 200, got 404", "this breaks Test Connection"),
    _expect("work-email-filter-unsupported", CONNECTION, "entra-compliant",
            'Step 3 "test connection with the work email as the matching attribute"',
            "expected status 200, got 400", "invalidFilter"),
    _expect("external-id-dropped", CREATE, "entra",
            'Step 4 "the user carries Entra\'s externalId, name.formatted and work email"',
            "$.externalId: missing"),
    _expect("disabled-user-404", DISABLE, "entra", DISABLED_READ_STEP,
            "expected status 200, got 404"),
    _expect("disabled-user-hidden-from-filter", DISABLE, "entra-compliant",
            'Step 7 "the disabled user is still found by the matching filter"',
            "$.totalResults: expected 1, got 0"),
    _expect("memberships-dropped-on-disable", DISABLE, "entra-compliant",
            'Step 8 "the disabled user\'s group membership is kept"',
            "1 expected member(s) missing"),
    _expect("group-add-first-member-only", GROUPS, "entra",
            'Step 6 "every member added in the one PATCH is listed, and no other"',
            "group has 1 member(s), expected 3"),
    _expect("member-filter-remove-ignored", REMOVE_MEMBERS, "entra-compliant",
            'Step 6 "exactly the two removed members are gone, the third is kept"',
            "2 unexpected member(s)"),
    _expect("start-index-ignored", PAGINATION, "entra",
            'Step 2 "page through /Users with count=5; each page\'s startIndex must be page*5+1"',
            "page 2: asked for startIndex=6, the answer says startIndex=1"),
]


def test_every_entra_deviation_has_an_expectation():
    assert sorted(e.deviation.name for e in ENTRA_EXPECTATIONS) == sorted(ENTRA_DEVIATIONS)
    assert all(d.source and d.description for d in ENTRA_DEVIATIONS.values())


@pytest.mark.parametrize("expectation", ENTRA_EXPECTATIONS, ids=lambda e: e.id)
def test_an_entra_deviation_fails_the_scenario_that_covers_it(
    expectation: Expectation, scim_server: EmbeddedServer, tmp_path: Path
):
    result = run_with_deviation(scim_server.base_url, tmp_path, [expectation.deviation],
                                expectation.scenario, expectation.idp)
    assert_caught(expectation, result)


@pytest.mark.parametrize("idp", ["entra", "entra-compliant"])
def test_without_a_deviation_the_same_scenarios_pass_through_the_proxy(
    idp: str, scim_server: EmbeddedServer, tmp_path: Path
):
    # The control: each failure above comes from the deviation, not from the proxy or the scenario.
    scenarios = tuple(sorted({e.scenario for e in ENTRA_EXPECTATIONS if e.idp == idp}))
    with DeviatingProxy(scim_server.base_url) as proxy:
        result = run_scenarios(proxy.url, tmp_path, "--idp", idp, paths=scenarios)
    assert result.code == 0, result.output[-3000:]
    assert f"{len(scenarios)} passed" in result.output
