"""Each troubleshooting scenario, run against a target that shows its fault, names the likely cause.

The targets are the real embedded server reached through a wrong base URL, with a wrong token,
or behind the deviating proxy made to misbehave the way servers in the field do (an open
/Users, an auth layer that crashes on a malformed header, a soft delete that keeps serving the
user, a /Groups endpoint that is an HTML page ...). The run must fail that one scenario, at the
step that shows the fault, and the report must say what to check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from conformance.engine.embedded import EmbeddedServer
from tests.support.detection import Expectation, assert_caught, run_with_deviation
from tests.support.deviating_proxy import CATALOGUE, Deviation, ProxyRequest, ProxyResponse, scim_error
from tests.support.deviations_rfc import RFC_DEVIATIONS
from tests.support.runs import DISTINCTIVE_TOKEN, REPO, RunResult, embedded_target, run_scenarios

TS = "scenarios/troubleshooting/"
IDP = "troubleshooting"


# --- targets that show one fault each ---------------------------------------------------------

def _open_users(request: ProxyRequest) -> ProxyRequest:
    """An auth layer that lets requests without a token through (as the server's own token)."""
    if "authorization" not in request.headers:
        return dataclasses.replace(request, headers={**request.headers, "authorization": f"Bearer {DISTINCTIVE_TOKEN}"})
    return request


def _auth_crashes_on_other_schemes(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    header = request.headers.get("authorization")
    if header is not None and not header.startswith("Bearer "):
        return ProxyResponse(500).with_body(b"Internal Server Error: IndexError: list index out of range",
                                            "text/plain")
    return request


def _any_token_accepted(request: ProxyRequest) -> ProxyRequest:
    if request.headers.get("authorization", "").startswith("Bearer "):
        return dataclasses.replace(request, headers={**request.headers, "authorization": f"Bearer {DISTINCTIVE_TOKEN}"})
    return request


def _duplicate_creates_second_account(request: ProxyRequest) -> ProxyRequest:
    body = request.json()
    if request.method == "POST" and request.route.rstrip("/").endswith("/Users") and isinstance(body, dict):
        name = body.get("userName")
        lookup = httpx.get(f"{request.origin}{request.route}", params={"filter": f'userName eq "{name}"'},
                           headers={"authorization": request.headers.get("authorization", "")}, timeout=10)
        if lookup.status_code == 200 and lookup.json().get("totalResults"):
            return request.with_json({**body, "userName": f"{name}.second-account"})
    return request


def _not_an_object_crashes(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    if request.method in ("POST", "PUT") and request.body and not isinstance(request.json(), dict):
        return ProxyResponse(500).with_body(b"Internal Server Error: 'str' object has no attribute 'get'",
                                            "text/plain")
    return request


def _groups_not_found(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    if "/Groups" in request.route:
        return ProxyResponse(404).with_body(b'{"message": "Not Found"}', "application/json")
    return request


@dataclass
class _Tombstones:
    """A soft delete that keeps the userName taken: a removed user can never be added again."""

    removed: set[str] = field(default_factory=set)

    def rewrite(self, request: ProxyRequest) -> ProxyRequest | ProxyResponse:
        body = request.json()
        auth = {"authorization": request.headers.get("authorization", "")}
        if request.method == "DELETE" and "/Users/" in request.route:
            user = httpx.get(request.origin + request.route, headers=auth, timeout=10)
            if user.status_code == 200:
                self.removed.add(str(user.json().get("userName", "")).lower())
        name = str(body.get("userName", "")).lower() if isinstance(body, dict) else None
        if request.method == "POST" and name in self.removed:
            return scim_error(409, "User has already been taken", "uniqueness")
        return request


def _fault(name: str, description: str, rewrite_request: Callable | None = None,
           rewrite_response: Callable | None = None) -> Deviation:
    return Deviation(name, description, "troubleshooting pattern", rewrite_request, rewrite_response)


@dataclass(frozen=True)
class Case:
    """A troubleshooting scenario, the fault its target shows, and what the report must say."""

    expectation: Expectation
    run: str = "proxy"  # proxy: behind the deviating proxy; base_url: at a wrong base URL; token: a wrong token
    capabilities: dict[str, bool] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.expectation.id


def _case(scenario: str, fault: Deviation, step: str, *words: str, run: str = "proxy",
          **capabilities: bool) -> Case:
    return Case(Expectation(fault, TS + scenario, IDP, step, words, capabilities), run, capabilities)


CASES: list[Case] = [
    _case("base-url.scenario.yaml", _fault("base-path-typo", "the base URL has a typo in its path"),
          'Step 1 "GET <base URL>/Users answers 200 with a SCIM ListResponse',
          "expected status 200, got 404", "the base URL looks wrong - check its path", run="base_url"),
    _case("base-url.scenario.yaml",
          _fault("base-url-is-a-web-page", "the base URL is a web page (a login page), not the SCIM API",
                 rewrite_request=lambda r: ProxyResponse(200).with_body(
                     b"<html><body><h1>Sign in</h1></body></html>", "text/html")),
          'Step 1 "GET <base URL>/Users answers 200 with a SCIM ListResponse',
          "expected a JSON body, got text/html", "means the base URL looks wrong"),
    _case("discovery-without-auth.scenario.yaml", _fault("wrong-token", "the token in the variable is not accepted"),
          'Step 2 "GET /Users with the configured token answers 200',
          "expected status 200, got 401", "a token or header problem, not a network one",
          "Check that the variable named in the target profile", run="token"),
    _case("token-missing.scenario.yaml", _fault("open-users", "/Users is served without a token",
                                                rewrite_request=_open_users),
          'Step 1 "GET /Users without an Authorization header is refused with 401',
          "expected status 401, got 200", "a 200 means /Users is open to anyone"),
    _case("token-malformed.scenario.yaml",
          _fault("auth-crashes-on-other-schemes", "the auth code crashes on a header that is not Bearer",
                 rewrite_request=_auth_crashes_on_other_schemes),
          'Step 1 "Authorization: <token> without the Bearer scheme is refused with 401',
          "expected status 401, got 500", "must be answered with a 4xx, never a 500"),
    _case("token-invalid.scenario.yaml", _fault("any-token-accepted", "any Bearer token is accepted",
                                                rewrite_request=_any_token_accepted),
          'Step 2 "GET /Users with an invalid token is refused with 401',
          "expected status 401, got 200", "expired or revoked tokens look the same to the server"),
    _case("stale-ids.scenario.yaml", RFC_DEVIATIONS["user-delete-ignored"],
          'Step 3 "GET of the stale id answers 404 with a SCIM Error',
          "expected status 404, got 200", "a 200 means the deleted user is still served"),
    _case("duplicates.scenario.yaml",
          _fault("duplicate-creates-second-account", "a duplicate POST creates a second account",
                 rewrite_request=_duplicate_creates_second_account),
          'Step 2 "POST of the same user again is refused with 409 uniqueness',
          "expected status 409, got 201", "a 201 means a second account for the same person"),
    _case("bad-requests.scenario.yaml",
          _fault("not-an-object-crashes", "a body that is not a JSON object crashes the server",
                 rewrite_request=_not_an_object_crashes),
          'Step 1 "a POST /Users body that is not a User object', "expected status 400, got 500",
          "check the server's log for the exception"),
    _case("groups-unsupported.scenario.yaml", CATALOGUE["list-html"],
          'Step 2 "GET /Groups answers a SCIM ListResponse', "expected a JSON body, got text/html",
          "group provisioning unsupported by this target"),
    _case("groups-unsupported.scenario.yaml",
          _fault("groups-not-found", "/Groups does not exist: 404", rewrite_request=_groups_not_found),
          'Step 2 "GET /Groups answers a SCIM ListResponse', "expected status 200, got 404",
          "group provisioning unsupported by this target", "the endpoint does not exist on this target"),
    _case("readd-removed-user.scenario.yaml", _fault("tombstones", "a removed userName stays taken"),
          'Step 4 "the IdP adds the removed user again with POST',
          "expected status 200 or 201, got 409", "a 409 means the target still holds the removed user"),
]


def _run(case: Case, server: EmbeddedServer, tmp_path: Path) -> RunResult:
    expectation = case.expectation
    if case.run == "proxy":
        deviation = expectation.deviation
        if deviation.name == "tombstones":  # state per run
            deviation = dataclasses.replace(deviation, rewrite_request=_Tombstones().rewrite)
        return run_with_deviation(server.base_url, tmp_path, [deviation], expectation.scenario, IDP,
                                  case.capabilities)
    base_url = server.base_url + ("-typo" if case.run == "base_url" else "")
    profile = Path(embedded_target(base_url, tmp_path))
    data = yaml.safe_load(profile.read_text(encoding="utf-8"))
    data.pop("expected_failures", None)
    data["capabilities"] = {**data.get("capabilities", {}), **case.capabilities}
    profile.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    token = "scimc-not-the-servers-token" if case.run == "token" else DISTINCTIVE_TOKEN
    return run_scenarios(str(profile), tmp_path, "--idp", IDP, token=token, paths=(expectation.scenario,))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_troubleshooting_scenario_names_the_likely_cause(case: Case, scim_server: EmbeddedServer, tmp_path: Path):
    result = _run(case, scim_server, tmp_path)
    assert_caught(case.expectation, result)


def test_every_troubleshooting_scenario_has_a_target_that_shows_its_fault():
    shipped = {p.name for p in (REPO / TS).glob("*.scenario.yaml")}
    covered = {Path(c.expectation.scenario).name for c in CASES}
    assert shipped - covered == set()
