"""The registered checks of a target's answers, called on hand-built exchanges."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from conformance.engine.checks import CHECKS, CheckFailed
from conformance.engine.exchange import NOT_JSON, Exchange, Received, Sent

SCIM_JSON = (("Content-Type", "application/scim+json"),)
LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


def answer(
    status: int = 200,
    body: Any = None,
    *,
    text: str | None = None,
    headers: tuple[tuple[str, str], ...] = SCIM_JSON,
) -> Exchange:
    """An exchange whose response has `status` and either a JSON `body` or a raw `text`."""
    if text is None:
        text = "" if body is None else json.dumps(body)
    try:
        parsed = json.loads(text) if text.strip() else NOT_JSON
    except ValueError:
        parsed = NOT_JSON
    sent = Sent("GET", "https://scim.example.com/scim/v2/Users", (), None)
    return Exchange(sent, Received(status, "", headers, text, parsed, 1.0))


def run(name: str, argument: Any, exchange: Exchange) -> None:
    CHECKS[name].function(argument, exchange)


def failure(name: str, argument: Any, exchange: Exchange) -> str:
    with pytest.raises(CheckFailed) as exc:
        run(name, argument, exchange)
    return exc.value.message


def test_the_builtin_checks_are_registered():
    assert set(CHECKS) == {"status", "json", "schema", "scimType", "headers", "empty_body", "absent", "excludes",
                           "present", "members"}


def test_status_runs_before_the_body_checks():
    assert CHECKS["status"].order < min(c.order for n, c in CHECKS.items() if n != "status")


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_every_check_has_a_valid_argument_schema_and_a_description(name):
    Draft202012Validator.check_schema(CHECKS[name].argument_schema)
    assert CHECKS[name].description


# --- status --------------------------------------------------------------------------------

def test_status_passes_on_the_expected_code():
    run("status", 201, answer(201))


def test_status_fails_on_another_code_and_names_both():
    assert failure("status", 201, answer(200)) == "expected status 201, got 200"


def test_status_list_passes_on_any_listed_code():
    run("status", [200, 204], answer(204))


def test_status_list_fails_outside_the_list_and_names_every_allowed_code():
    assert failure("status", [200, 204], answer(404)) == "expected status 200 or 204, got 404"


def test_status_failure_carries_expected_and_actual():
    with pytest.raises(CheckFailed) as exc:
        run("status", 200, answer(500))
    assert (exc.value.expected, exc.value.actual) == (200, 500)


# --- json subset ---------------------------------------------------------------------------

def test_json_passes_when_the_expectation_is_a_subset_of_the_body():
    body = {"id": "1", "userName": "ada", "name": {"givenName": "Ada", "familyName": "L"}, "active": True}
    run("json", {"userName": "ada", "name": {"givenName": "Ada"}}, answer(body=body))


def test_json_fails_on_a_differing_value_and_names_its_path():
    message = failure("json", {"name": {"givenName": "Ada"}}, answer(body={"name": {"givenName": "Bob"}}))
    assert message == 'body does not match: $.name.givenName: expected "Ada", got "Bob"'


def test_json_fails_on_a_missing_key_and_says_it_is_missing():
    message = failure("json", {"active": True}, answer(body={"id": "1"}))
    assert message == "body does not match: $.active: missing (expected true)"


def test_json_does_not_take_the_number_0_for_the_string_0():
    message = failure("json", {"totalResults": 0}, answer(body={"totalResults": "0"}))
    assert message == 'body does not match: $.totalResults: expected 0, got "0"'


def test_json_does_not_take_the_string_0_for_the_number_0():
    failure("json", {"status": "0"}, answer(body={"status": 0}))


def test_json_does_not_take_true_for_1():
    message = failure("json", {"active": True}, answer(body={"active": 1}))
    assert message == "body does not match: $.active: expected true, got 1"


def test_json_does_not_take_1_for_true():
    failure("json", {"count": 1}, answer(body={"count": True}))


def test_json_does_not_take_the_string_false_for_false():
    failure("json", {"active": False}, answer(body={"active": "False"}))


def test_json_takes_an_integer_for_the_equal_float():
    run("json", {"count": 1}, answer(body={"count": 1.0}))


def test_json_matches_list_items_in_any_order():
    body = {"emails": [{"value": "a@x", "primary": True}, {"value": "b@x", "type": "work"}]}
    run("json", {"emails": [{"value": "b@x"}, {"value": "a@x"}]}, answer(body=body))


def test_json_fails_when_no_list_item_matches_and_names_the_expected_item():
    body = {"emails": [{"value": "a@x"}]}
    message = failure("json", {"emails": [{"value": "a@x"}, {"value": "c@x"}]}, answer(body=body))
    assert message == 'body does not match: $.emails[1]: no item matches {"value": "c@x"}'


def test_json_fails_when_an_object_is_expected_and_a_list_came():
    message = failure("json", {"id": "1"}, answer(body=[{"id": "1"}]))
    assert message.startswith("body does not match: $: expected an object")


def test_json_fails_when_an_array_is_expected_and_a_scalar_came():
    message = failure("json", {"groups": []}, answer(body={"groups": "none"}))
    assert message.startswith("body does not match: $.groups: expected an array")


def test_json_on_an_html_body_says_it_got_text_html():
    page = answer(200, text="<html><body><h1>Sign in</h1></body></html>",
                  headers=(("Content-Type", "text/html; charset=utf-8"),))
    message = failure("json", {"id": "1"}, page)
    assert message.startswith("expected a JSON body, got text/html: ")
    assert "Sign in" in message


def test_json_on_a_body_without_content_type_says_so():
    message = failure("json", {"id": "1"}, answer(200, text="oops", headers=()))
    assert message == "expected a JSON body, got no Content-Type: 'oops'"


def test_json_on_an_empty_body_says_the_body_is_empty():
    message = failure("json", {"id": "1"}, answer(204, text=""))
    assert message == "expected a JSON body, got an empty body (status 204)"


def test_json_on_a_whitespace_body_says_the_body_is_empty():
    assert "empty body" in failure("json", {"id": "1"}, answer(200, text="  \n"))


# --- schema --------------------------------------------------------------------------------

def test_schema_passes_a_valid_list_response():
    run("schema", "ListResponse", answer(body={"schemas": [LIST_URN], "totalResults": 0, "Resources": []}))


def test_schema_fails_a_list_response_with_totalresults_as_a_string_and_names_the_path():
    body = {"schemas": [LIST_URN], "totalResults": "0", "Resources": []}
    message = failure("schema", "ListResponse", answer(body=body))
    assert message.startswith("body is not a valid ListResponse: at $.totalResults: ")
    assert "'integer'" in message


def test_schema_counts_the_further_problems():
    body = {"schemas": [LIST_URN], "totalResults": "1", "itemsPerPage": "1", "Resources": []}
    assert failure("schema", "ListResponse", answer(body=body)).endswith("more)")


def test_schema_on_an_empty_body_says_the_body_is_empty():
    assert "empty body" in failure("schema", "User", answer(204, text=""))


# --- scimType ------------------------------------------------------------------------------

def test_scimtype_passes_on_the_expected_type():
    body = {"schemas": [ERROR_URN], "status": "409", "scimType": "uniqueness"}
    run("scimType", "uniqueness", answer(409, body=body))


def test_scimtype_fails_on_another_type_and_names_both():
    body = {"schemas": [ERROR_URN], "status": "400", "scimType": "invalidValue"}
    message = failure("scimType", "invalidFilter", answer(400, body=body))
    assert message == "expected scimType 'invalidFilter', got 'invalidValue'"


def test_scimtype_fails_when_the_error_has_no_scimtype():
    message = failure("scimType", "uniqueness", answer(409, body={"schemas": [ERROR_URN], "status": "409"}))
    assert message == "expected scimType 'uniqueness', got None"


def test_scimtype_fails_when_the_body_is_not_an_object():
    assert failure("scimType", "uniqueness", answer(409, body=["uniqueness"])).endswith("got None")


# --- headers -------------------------------------------------------------------------------

def test_headers_true_passes_when_the_header_is_present_in_any_case():
    run("headers", {"ETag": True}, answer(headers=(("etag", 'W/"1"'),)))


def test_headers_true_fails_when_the_header_is_missing():
    assert failure("headers", {"ETag": True}, answer()) == "expected header ETag to be present; it is missing"


def test_headers_null_passes_when_the_header_is_absent():
    run("headers", {"Location": None}, answer())


def test_headers_false_fails_when_the_header_is_present():
    challenge = answer(headers=(("WWW-Authenticate", "Basic"),))
    message = failure("headers", {"WWW-Authenticate": False}, challenge)
    assert message == "expected no WWW-Authenticate header, got 'Basic'"


def test_headers_media_type_ignores_parameters():
    headers = (("content-type", "application/scim+json; charset=utf-8"),)
    run("headers", {"Content-Type": "application/scim+json"}, answer(headers=headers))


def test_headers_media_type_ignores_case():
    headers = (("Content-Type", "Application/SCIM+JSON"),)
    run("headers", {"Content-Type": "application/scim+json"}, answer(headers=headers))


def test_headers_media_type_fails_on_another_media_type():
    headers = (("Content-Type", "application/json; charset=utf-8"),)
    message = failure("headers", {"Content-Type": "application/scim+json"}, answer(headers=headers))
    assert message == ("expected header Content-Type: application/scim+json, "
                       "got 'application/json; charset=utf-8'")


def test_headers_value_fails_when_the_header_is_missing():
    message = failure("headers", {"Content-Type": "application/scim+json"}, answer(headers=()))
    assert message == "expected header Content-Type: application/scim+json; it is missing"


# --- empty_body ----------------------------------------------------------------------------

def test_empty_body_true_passes_on_an_empty_body():
    run("empty_body", True, answer(204, text=""))


def test_empty_body_true_passes_on_a_whitespace_body():
    run("empty_body", True, answer(204, text="\r\n"))


def test_empty_body_true_fails_on_a_body_and_shows_its_start():
    message = failure("empty_body", True, answer(200, body={"id": "1"}))
    assert message == "expected an empty body, got '{\"id\": \"1\"}'"


def test_empty_body_false_fails_on_an_empty_body():
    assert failure("empty_body", False, answer(204, text="")) == "expected a body, got an empty one"


def test_empty_body_false_passes_on_a_body():
    run("empty_body", False, answer(200, body={}))


def test_json_empty_array_expects_an_empty_array():
    run("json", {"roles": []}, answer(body={"roles": []}))
    assert "expected an empty array, got 1 item(s)" in failure("json", {"roles": []}, answer(body={"roles": ["x"]}))


def test_headers_compares_etags_exactly():
    exchange = answer(body={}, headers=(("ETag", 'W/"1"'),))
    run("headers", {"ETag": 'W/"1"'}, exchange)
    assert "expected header ETag" in failure("headers", {"ETag": 'w/"1"'}, exchange)


# --- members -------------------------------------------------------------------------------

GROUP = {"id": "g1", "displayName": "Eng", "members": [{"value": "u1", "display": "a"}, {"value": "u2"}]}


def test_members_passes_on_the_same_ids_in_any_order():
    run("members", ["u2", "u1"], answer(200, GROUP))


@pytest.mark.parametrize("body", [{"id": "g1"}, {"id": "g1", "members": None}, {"id": "g1", "members": []}])
def test_members_empty_accepts_absent_null_and_an_empty_array(body: dict):
    run("members", [], answer(200, body))


def test_members_names_the_missing_and_the_unexpected_ids():
    message = failure("members", ["u1", "u3"], answer(200, GROUP))
    assert message == ("group has 2 member(s), expected 2: 1 expected member(s) missing (u3); "
                       "1 unexpected member(s) (u2)")


def test_members_rejects_a_member_listed_twice():
    body = {"members": [{"value": "u1"}, {"value": "u1"}]}
    assert "member(s) listed twice (u1)" in failure("members", ["u1"], answer(200, body))


def test_members_on_an_empty_expectation_rejects_a_group_that_kept_members():
    assert "2 unexpected member(s)" in failure("members", [], answer(200, GROUP))


# --- absent / excludes ---------------------------------------------------------------------

def test_absent_passes_when_the_attribute_is_not_there():
    run("absent", ["password", "name.middleName"], answer(200, {"userName": "a", "name": {"givenName": "A"}}))


def test_absent_finds_an_attribute_whatever_its_case_and_depth():
    body = {"userName": "a", "Password": "x", "name": {"middleName": "B"}}
    message = failure("absent", ["password", "name.middleName"], answer(200, body))
    assert message == "body has 'password', 'name.middleName', which must not be returned"


def test_excludes_fails_without_repeating_the_secret_it_found():
    secret = "s3cret-Passw0rd!"
    message = failure("excludes", ["other", secret], answer(200, {"note": f"echo {secret}"}))
    assert message == "body contains excluded value #2 (of 2), which must never be returned"
    assert secret not in message


def test_excludes_passes_when_no_value_appears():
    run("excludes", ["s3cret"], answer(200, {"userName": "a"}))


def test_present_names_what_is_missing_and_what_is_there():
    message = failure("present", ["Resources", "detail"], answer(200, {"totalResults": 0, "detail": None}))
    assert message == "body lacks 'Resources' (it has: detail, totalResults)"
    run("present", ["resources"], answer(200, {"Resources": []}))


def test_absent_and_present_follow_schema_urn_keys():
    urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    body = {"userName": "a", urn: {"department": "X", "manager": {"value": "m1"}}}
    run("present", [f"{urn}:department", f"{urn}:manager.value"], answer(200, body))
    assert failure("absent", [f"{urn}:manager"], answer(200, body)) == \
        f"body has '{urn}:manager', which must not be returned"
    run("absent", [f"{urn}:employeeNumber"], answer(200, body))


def _random_json(rng: Any, depth: int = 0) -> Any:
    kind = rng.randrange(7 if depth < 3 else 4)
    if kind == 0:
        return rng.choice([0, 1, 1.0, True, False])
    if kind == 1:
        return rng.choice(["a", "b", "1", ""])
    if kind == 2:
        return None
    if kind == 3:
        return rng.choice([2, "work", "home"])
    if kind in (4, 5):
        return {rng.choice("xyz"): _random_json(rng, depth + 1) for _ in range(rng.randrange(3))}
    return [_random_json(rng, depth + 1) for _ in range(rng.randrange(3))]


def test_the_json_checks_quick_verdict_agrees_with_its_messages():
    # `_contains` decides without building messages; `_mismatch` explains. They must never
    # disagree, or a passing body would be reported as failing (or the reverse).
    import random

    from conformance.engine.checks.body import _contains, _mismatch

    rng = random.Random(7643)
    disagreements, matches = [], 0
    for _ in range(20000):
        actual = _random_json(rng)
        expected = _random_json(rng) if rng.random() < 0.5 else _subset_of(actual, rng)
        matches += _contains(expected, actual)
        if _contains(expected, actual) != (_mismatch(expected, actual, "$") is None):
            disagreements.append((expected, actual))
    assert disagreements == []
    assert 2000 < matches < 18000  # both verdicts were exercised


def _subset_of(value: Any, rng: Any) -> Any:
    if isinstance(value, dict):
        return {k: _subset_of(v, rng) for k, v in value.items() if rng.random() < 0.7}
    if isinstance(value, list) and value:
        return [_subset_of(rng.choice(value), rng) for _ in range(rng.randrange(1, 3))]
    return value
