"""Each Okta scenario fails, at the right step and naming the problem, on a target that breaks it.

A deviation from tests/support/deviations_okta.py is switched on in front of the real embedded
server; the scenario that covers the behaviour is replayed as one Okta variant; the run must
fail exactly that item, at that step, with words that name what is wrong (and, where Okta reacts
to the status, Okta's reaction).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.engine.embedded import EmbeddedServer
from tests.support.detection import Expectation, assert_caught, run_with_deviation
from tests.support.deviations_okta import OKTA_DEVIATIONS as D
from tests.support.runs import REPO

OKTA = "scenarios/okta/"
SPEC = "scenarios/okta-spec/"

OKTA_EXPECTATIONS: list[Expectation] = [
    Expectation(D["list-counts-as-strings"], OKTA + "test-credentials.scenario.yaml", "okta",
                '"test credentials, users (GET /Users?startIndex=1&count=2)"',
                ("body is not a valid ListResponse", "is not of type 'integer'")),
    Expectation(D["paging-zero-based"], OKTA + "import-users-and-groups.scenario.yaml", "okta",
                '"import users, two per page, until totalResults"',
                ("asked for startIndex=3, the answer says startIndex=2", "pages overlap")),
    Expectation(D["paging-ignored"], OKTA + "import-users-and-groups.scenario.yaml", "okta-aiw",
                '"import users, two per page, until totalResults"', ("pages overlap",)),
    Expectation(D["create-returns-200"], OKTA + "push-new-user.scenario.yaml", "okta",
                '"create the user with Okta\'s POST"', ("expected status 201, got 200",)),
    Expectation(D["create-echoes-password"], OKTA + "push-new-user.scenario.yaml", "okta-aiw",
                '"create the user with Okta\'s POST"',
                ("body has 'password', which must not be returned", "body contains excluded value #1")),
    Expectation(D["filter-escaped-quote-rejected"], OKTA + "push-existing-user.scenario.yaml", "okta",
                "Okta's lookup finds the existing user despite the odd characters in its userName",
                ("expected status 200, got 400", "Okta treats a 400 as permanent")),
    Expectation(D["filter-case-sensitive-username"], OKTA + "push-existing-user.scenario.yaml",
                "okta-aiw", '"the lookup is case-insensitive on userName (Okta SPEC test step 15)"',
                ("$.totalResults: expected 1, got 0",)),
    Expectation(D["email-uniqueness-not-enforced"], OKTA + "link-by-email.scenario.yaml", "okta",
                '"Okta creates the user; the duplicate email is refused with 409 uniqueness"',
                ("expected status 409, got 201",), capabilities={"unique_emails": True}),
    Expectation(D["email-link-not-done"], OKTA + "link-by-email.scenario.yaml", "okta-aiw",
                '"Okta creates the user; the target links it to the existing account by email"',
                ("$.id: expected",), capabilities={"links_by_email": True}),
    Expectation(D["put-rejects-meta"], OKTA + "profile-update.scenario.yaml", "okta",
                '"Okta sends the profile update as a PUT of the user it read, meta included"',
                ("expected status 200, got 400", "Okta treats a 400 as permanent")),
    Expectation(D["put-ignored"], OKTA + "profile-update.scenario.yaml", "okta-aiw",
                '"Okta sends the profile update as a PUT of the user it read, meta included"',
                ("$.displayName: expected",)),
    Expectation(D["put-clears-omitted-active"], OKTA + "put-keeps-unmapped-attributes.scenario.yaml", "okta",
                '"the user is still active after the PUT"', ("$.active: missing",)),
    Expectation(D["pathless-patch-ignored"], OKTA + "profile-update-patch.scenario.yaml", "okta",
                '"the change is visible in a following GET and the rest is kept"', ("$.displayName: expected",)),
    Expectation(D["deactivate-ignored"], OKTA + "deactivate-reactivate.scenario.yaml", "okta",
                '"the deactivated user is still readable and inactive"', ("$.active: expected false, got true",)),
    Expectation(D["deactivate-deletes-user"], OKTA + "deactivate-reactivate.scenario.yaml", "okta-aiw",
                '"the deactivated user is still readable and inactive"',
                ("expected status 200, got 404", "Okta loses the link")),
    Expectation(D["filter-hides-inactive-users"], OKTA + "deactivate-reactivate.scenario.yaml", "okta",
                '"the deactivated user is still found by the userName filter"', ("$.totalResults: expected 1, got 0",)),
    Expectation(D["patch-not-implemented"], OKTA + "deactivate-reactivate.scenario.yaml", "okta",
                '"Okta deactivates the user"',
                ("expected status 200 or 204, got 501", "does not fall back to PUT")),
    Expectation(D["password-change-echoed"], OKTA + "password-sync.scenario.yaml", "okta",
                '"Okta sends the new password"', ("body contains excluded value #1 (of 2)",)),
    Expectation(D["member-remove-by-filter-ignored"], OKTA + "group-push.scenario.yaml", "okta",
                '"read the group back and compare its members exactly"', ("1 unexpected member(s)",)),
    Expectation(D["member-type-required"], OKTA + "group-push.scenario.yaml", "okta",
                '"Okta adds two members (objects with a value and no type)"',
                ("expected status 200 or 204, got 400", "Okta treats a 400 as permanent")),
    Expectation(D["empty-members-replace-rejected"], OKTA + "group-push.scenario.yaml", "okta",
                "Okta \"Push now\" of a group that became empty replaces the members with []",
                ("expected status 200 or 204, got 400",)),
    Expectation(D["rename-drops-members"], OKTA + "group-push.scenario.yaml", "okta",
                '"the group has the new name and both membership changes"', ("expected member(s) missing",)),
    Expectation(D["group-delete-ignored"], OKTA + "group-push.scenario.yaml", "okta-aiw",
                '"the deleted group is gone"', ("expected status 404, got 200",)),
    Expectation(D["members-lost-update"], OKTA + "large-group.scenario.yaml", "okta",
                '"both concurrent additions took effect (no lost update)"', ("no item matches",)),
    Expectation(D["unknown-member-rejects-add"], OKTA + "large-group.scenario.yaml", "okta",
                '"an add that names one unknown member id and one real one"',
                ("expected status 200 or 204, got 400", "Okta treats a 400 as permanent")),
    Expectation(D["error-404-without-detail"], SPEC + "spec-test.scenario.yaml", "okta-spec",
                "step 10: GET of an unknown id answers 404 with a SCIM Error and a detail",
                ("body lacks 'detail'",)),
    Expectation(D["discovery-post-accepted"], SPEC + "spec-test-discovery.scenario.yaml", "okta-spec",
                '"step 2: POST /ServiceProviderConfig is refused with 405"', ("expected status 405, got 200",)),
    Expectation(D["duplicate-answers-400"], OKTA + "error-answers.scenario.yaml", "okta",
                '"Okta creates the same user again and gets 409 uniqueness"',
                ("expected status 409, got 400", "Okta treats a 400 as permanent")),
    Expectation(D["error-not-scim"], OKTA + "error-answers.scenario.yaml", "okta-aiw",
                '"Okta creates the same user again and gets 409 uniqueness"',
                ("body is not a valid Error",)),
    Expectation(D["deactivate-deletes-user"], OKTA + "crud-test.scenario.yaml", "okta",
                '"CRUD step 8: GET returns the user with active false"', ("expected status 200, got 404",)),
]


@pytest.mark.parametrize("expectation", OKTA_EXPECTATIONS, ids=lambda e: e.id)
def test_an_okta_scenario_fails_at_its_step_on_a_target_that_breaks_it(
    expectation: Expectation, scim_server: EmbeddedServer, tmp_path: Path
):
    result = run_with_deviation(scim_server.base_url, tmp_path, [expectation.deviation], expectation.scenario,
                                expectation.idp, expectation.capabilities)
    assert_caught(expectation, result)


def test_every_okta_scenario_has_a_deviation_that_makes_it_fail():
    covered = {Path(e.scenario).name for e in OKTA_EXPECTATIONS}
    shipped = {p.name for folder in (OKTA, SPEC) for p in (REPO / folder).glob("*.scenario.yaml")}
    assert shipped - covered == set()
