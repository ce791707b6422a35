"""Each RFC scenario fails, at the right step and naming the problem, on a target that breaks it.

A deviation (tests/support/deviations_rfc.py, and a few of the Okta, Entra and core catalogues
that break an RFC rule too) is switched on in front of the real embedded server; the scenario of
scenarios/rfc/ that covers the rule is replayed as the rfc profile; the run must fail exactly
that item, at that step, with words that name what is wrong.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conformance.engine.embedded import EmbeddedServer
from tests.support.detection import Expectation, assert_caught, run_with_deviation
from tests.support.deviating_proxy import CATALOGUE
from tests.support.deviations_entra import ENTRA_DEVIATIONS
from tests.support.deviations_okta import OKTA_DEVIATIONS
from tests.support.deviations_rfc import RFC_DEVIATIONS as D
from tests.support.runs import REPO

RFC = "scenarios/rfc/"
TRIO = 3  # create-tagged-trio: the first three steps of the scenarios that use it


def _expect(deviation: str, scenario: str, step: str, *words: str, **capabilities: bool) -> Expectation:
    return Expectation(D[deviation], RFC + scenario, "rfc", step, words, capabilities)


RFC_EXPECTATIONS: list[Expectation] = [
    # discovery
    _expect("spc-denies-patch", "discovery-advertised-features.scenario.yaml",
            'Step 1 "claimed patch: /ServiceProviderConfig says patch.supported true"',
            "$.patch.supported: expected true, got false"),
    _expect("spc-incomplete", "discovery-service-provider-config.scenario.yaml",
            'Step 1 "GET /ServiceProviderConfig answers 200 with a ServiceProviderConfig"',
            "body is not a valid ServiceProviderConfig"),
    _expect("etag-advertised-not-declared", "discovery-unclaimed-features.scenario.yaml",
            "must not advertise it (else declare etag: true)", "$.etag.supported: expected false, got true",
            etag=False),
    _expect("resource-types-omit-group", "discovery-resource-types.scenario.yaml",
            'Step 2 "the target provisions groups, so /ResourceTypes lists Group at /Groups"',
            "$.Resources[0]: no item matches"),
    _expect("schema-username-case-exact", "discovery-schemas.scenario.yaml",
            'Step 4 "GET /Schemas/<core User URN> describes userName',
            "$.attributes[0]: no item matches"),
    # users: lifecycle, PUT, meta, ETags, media type
    _expect("user-delete-ignored", "users-read-replace-delete.scenario.yaml",
            'Step 6 "the deleted user is gone - GET answers 404 with a SCIM Error"',
            "expected status 404, got 200"),
    _expect("put-applies-read-only-meta", "put-read-only-ignored.scenario.yaml",
            'Step 2 "PUT with a different id, a made-up meta and groups answers 200',
            "$.meta.created: expected"),
    _expect("created-follows-last-modified", "meta.scenario.yaml",
            'Step 3 "after the change meta.created and meta.location are unchanged"',
            "$.meta.created: expected"),
    _expect("if-match-ignored", "etag.scenario.yaml",
            'Step 4 "PUT with an If-Match that does not match answers 412 Precondition Failed"',
            "expected status 412, got 200"),
    _expect("meta-version-differs-from-etag", "etag-meta-version.scenario.yaml",
            'Step 3 "meta.version is the ETag header\'s value"', "$.meta.version: expected"),
    _expect("plain-json-content-type", "media-type.scenario.yaml",
            'Step 1 "the 201 of a create is application/scim+json"',
            "expected header content-type: application/scim+json, got 'application/json'"),
    # queries
    _expect("attributes-ignored", "attributes.scenario.yaml",
            'Step 2 "GET /Users/{id}?attributes=displayName returns id and displayName, not the rest"',
            "which must not be returned"),
    _expect("count-zero-returns-all", "pagination-edges.scenario.yaml",
            f'Step {TRIO + 1} "count=0 returns totalResults 3 and no resources"', "body has 'Resources.id'"),
    _expect("sort-order-ignored", "sort.scenario.yaml",
            f'Step {TRIO + 2} "sortBy=displayName&sortOrder=descending with count=1 returns Cat Gamma first"',
            "$.Resources[0]: no item matches"),
    _expect("filter-ne-as-eq", "filter-operators.scenario.yaml",
            f'Step {TRIO + 2} "ne - displayName ne "Bob Beta" finds Ann and Cat"',
            "$.totalResults: expected 2, got 1"),
    _expect("filter-or-before-and", "filter-logical.scenario.yaml",
            f'Step {TRIO + 3} "and binds tighter than or',
            "$.totalResults: expected 2, got 1"),
    _expect("filter-attribute-names-case-sensitive", "filter-case.scenario.yaml",
            f'Step {TRIO + 1} "attribute names in other case', "expected status 200, got 400",
            "Unknown attribute 'TITLE'"),
    _expect("external-id-case-insensitive", "filter-case.scenario.yaml",
            f'Step {TRIO + 5} "externalId is caseExact true', "$.totalResults: expected 0, got 1"),
    _expect("invalid-filter-500", "errors-invalid-filter.scenario.yaml",
            'Step 1 "an unterminated string', "expected status 400, got 500"),
    _expect("search-post-unsupported", "search-post.scenario.yaml",
            'Step 2 "POST /Users/.search with a userName filter', "expected status 200, got 404"),
    _expect("too-many-not-refused", "errors-too-many.scenario.yaml",
            'Step 1 "GET /Users?filter=userName pr answers 400 tooMany"', "expected status 400, got 200",
            filter_too_many=True),
    _expect("eq-only-not-enforced", "filter-eq-only.scenario.yaml",
            'Step 3 "sw (not supported) is refused with 400 invalidFilter, not ignored"',
            "expected status 400, got 200", filter_eq_only=True),
    # PATCH
    _expect("pathless-replace-drops-sub-attributes", "patch-replace.scenario.yaml",
            'Step 6 "every change is there and name.givenName survived the path-less replace of name"',
            "$.name.givenName: missing"),
    _expect("filtered-remove-removes-all", "patch-remove.scenario.yaml",
            'Step 5 "nickName, the home email and the phone numbers are gone', "$.emails: missing"),
    _expect("patch-not-atomic", "patch-atomic.scenario.yaml",
            'Step 3 "the first operation was not applied either"', "$.displayName: expected"),
    _expect("primary-not-normalised", "patch-primary.scenario.yaml",
            'Step 3 "the home email is primary and the work email is set to primary false"',
            "no item matches"),
    _expect("read-only-patch-accepted", "errors-mutability.scenario.yaml",
            'Step 2 "replace id is refused with 400 mutability"', "expected status 400, got 204"),
    _expect("pathless-remove-accepted", "errors-no-target.scenario.yaml",
            'Step 2 "remove without a path answers 400 noTarget"', "expected status 400, got 204"),
    _expect("invalid-path-as-invalid-value", "errors-invalid-path.scenario.yaml",
            'Step 2 "replace scimcNoSuchAttribute answers 400 invalidPath"',
            "expected scimType 'invalidPath', got 'invalidValue'"),
    # errors, bulk, groups
    _expect("username-uniqueness-case-sensitive", "errors-uniqueness.scenario.yaml",
            'Step 3 "POST of the same userName in capitals answers 409 with scimType uniqueness"',
            "expected status 409, got 201"),
    _expect("error-status-number", "errors-not-found.scenario.yaml",
            'Step 1 "GET /Users/<unknown id> answers 404 with a SCIM Error, status "404""',
            "body is not a valid Error", "status is the HTTP status code expressed as a JSON string"),
    _expect("unauthorized-without-challenge", "errors-unauthorized.scenario.yaml",
            'Step 1 "GET /Users without an Authorization header answers 401',
            "expected header www-authenticate to be present"),
    _expect("bulk-id-not-resolved", "bulk.scenario.yaml",
            'Step 3 "the group created through /Bulk has that user as member', "no item matches"),
    _expect("group-put-keeps-members", "groups-crud.scenario.yaml",
            'Step 4 "PUT /Groups/{id} with a new displayName and no members', "1 unexpected member(s)"),
    _expect("enterprise-extension-dropped", "enterprise-extension.scenario.yaml",
            'Step 1 "create the user with employeeNumber and department in the enterprise extension"',
            "$.schemas[0]: no item matches"),
    _expect("invalid-value-without-scim-type", "errors-invalid-value.scenario.yaml",
            'Step 1 "POST /Users without userName answers 400 invalidValue',
            "expected scimType 'invalidValue', got None"),
    _expect("value-filter-unsupported", "filter-complex.scenario.yaml",
            f'Step {TRIO + 3} "value filter - emails[type eq "work" and value eq <Ann\'s email>] finds Ann"',
            "expected status 200, got 400"),
    # Deviations of the other catalogues that break an RFC rule an RFC scenario checks.
    Expectation(OKTA_DEVIATIONS["paging-zero-based"], RFC + "pagination.scenario.yaml", "rfc",
                f'Step {TRIO + 2} "startIndex=3&count=2 is the last page with the one user left, startIndex 3"',
                ("$.itemsPerPage: expected 1, got 2",)),
    Expectation(OKTA_DEVIATIONS["create-echoes-password"], RFC + "password-never-returned.scenario.yaml", "rfc",
                'Step 1 "create the user with a password; the 201 has no password"',
                ("body has 'password', which must not be returned",)),
    Expectation(OKTA_DEVIATIONS["pathless-patch-ignored"], RFC + "patch-add.scenario.yaml", "rfc",
                'Step 5 "the user has the nickName, title, profileUrl and both emails, and kept the rest"',
                ("$.title: missing",)),
    Expectation(OKTA_DEVIATIONS["member-remove-by-filter-ignored"], RFC + "groups-members.scenario.yaml", "rfc",
                'Step 8 "read the group back and compare its members exactly"', ("1 unexpected member(s)",)),
    Expectation(ENTRA_DEVIATIONS["work-email-filter-path-dropped"], RFC + "patch-value-filter.scenario.yaml",
                "rfc", 'Step 4 "the work email changed, the home email was replaced, nothing else"',
                ("$.emails[0]: no item matches",)),
    Expectation(CATALOGUE["error-not-scim"], RFC + "errors-invalid-syntax.scenario.yaml", "rfc",
                'Step 1 "POST /Users whose body is a JSON string', ("body is not a valid Error",)),
    Expectation(CATALOGUE["create-returns-200"], RFC + "users-create.scenario.yaml", "rfc",
                'Step 1 "POST /Users creates the user"', ("expected status 201, got 200",)),
]


@pytest.mark.parametrize("expectation", RFC_EXPECTATIONS, ids=lambda e: e.id)
def test_an_rfc_scenario_fails_at_its_step_on_a_target_that_breaks_it(
    expectation: Expectation, scim_server: EmbeddedServer, tmp_path: Path
):
    result = run_with_deviation(scim_server.base_url, tmp_path, [expectation.deviation], expectation.scenario,
                                expectation.idp, expectation.capabilities)
    assert_caught(expectation, result)


def test_every_rfc_deviation_is_caught_by_some_scenario():
    named = {id(e.deviation) for e in RFC_EXPECTATIONS}
    assert [name for name, d in D.items() if id(d) not in named] == []


def test_every_rfc_scenario_can_fail_or_is_a_known_deviation_of_the_embedded_server():
    # A scenario the embedded server already fails (expected_failures) is shown failing by every
    # run; every other one needs a deviation here that makes it fail.
    embedded = yaml.safe_load((REPO / "profiles/targets/embedded.yaml").read_text(encoding="utf-8"))
    known = set(embedded.get("expected_failures") or {})
    covered = {Path(e.scenario).name for e in RFC_EXPECTATIONS}
    uncovered = []
    for path in sorted((REPO / RFC).glob("*.scenario.yaml")):
        scenario_id = yaml.safe_load(path.read_text(encoding="utf-8"))["id"]
        if path.name not in covered and scenario_id not in known:
            uncovered.append(path.name)
    assert uncovered == []
