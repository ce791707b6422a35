"""A run harms nothing it did not create, whatever ids the target hands out.

A real scim2-server is seeded with pre-existing users and a group (a staging server's real
accounts), then a deviating proxy in front of it lies: it swaps a create answer's id for a
pre-existing resource's id, answers a traversal id `../Groups/<id>`, shows a pre-existing resource
beside a `scimc-` name in a list answer, or answers DELETE 204 and keeps the resource. After
each run every pre-existing resource reads back from the server, byte for byte, as before, and
the run's failure says why.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conformance.engine.cleanup import find_leftovers, remove_leftovers
from conformance.engine.embedded import EmbeddedServer
from conformance.engine.fakedata import RunData
from conformance.engine.profiles import TargetProfile
from conformance.engine.redact import Redactor
from conformance.engine.transport import Transport
from tests.hostile.test_cleanup_command import GROUP_SCHEMA, USER_SCHEMA, Arranged, cleanup_cli
from tests.support.deviating_proxy import DeviatingProxy, Deviation, ProxyRequest, ProxyResponse, is_request
from tests.support.runs import DISTINCTIVE_TOKEN, embedded_target, run_scenarios

USERS = "scenarios/okta/push-new-user.scenario.yaml"
GROUPS = "scenarios/okta/group-push.scenario.yaml"
UNIQUENESS = "scenarios/rfc/errors-uniqueness.scenario.yaml"  # reads its user by id only once, to prove it


@dataclass
class Seeded:
    """Resources that were on the server before the run: paths like Users/<id>, and their ids."""

    user_ids: list[str]
    group_id: str

    @property
    def paths(self) -> list[str]:
        return [*(f"Users/{uid}" for uid in self.user_ids), f"Groups/{self.group_id}"]

    def snapshot(self, client: httpx.Client) -> dict[str, bytes]:
        """Each resource's body as the server answers it (every one must still be there)."""
        return Arranged("", others=self.paths).snapshot(client)


@pytest.fixture
def seeded(scim_client: httpx.Client) -> Seeded:
    tag = secrets.token_hex(3)
    user_ids = []
    for name in (f"alice.{tag}@example.com", f"bob.{tag}@example.com"):
        response = scim_client.post("Users", json={"schemas": [USER_SCHEMA], "userName": name, "active": True})
        assert response.status_code == 201, response.text
        user_ids.append(response.json()["id"])
    response = scim_client.post("Groups", json={"schemas": [GROUP_SCHEMA], "displayName": f"Payroll {tag}",
                                                "members": [{"value": user_ids[0]}]})
    assert response.status_code == 201, response.text
    return Seeded(user_ids, response.json()["id"])


def _replace_created_id(new_id: dict[str, str]) -> Deviation:
    """A create answer (201 to POST /Users or /Groups) whose id is `new_id[collection]`."""

    def rewrite(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
        body = response.json()
        if response.status != 201 or not isinstance(body, dict):
            return response
        for collection, rid in new_id.items():
            if is_request(request, "POST", collection, item=False):
                return response.with_json({**body, "id": rid})
        return response

    return Deviation("create-answers-another-id", "the create answer names another resource's id",
                     "hostile target", rewrite_response=rewrite)


def _sweep(scim_server: EmbeddedServer, run_id: str) -> list[str]:
    """Remove, straight from the server, what the run created and could not claim; their paths."""
    target = TargetProfile(id="direct", base_url=scim_server.base_url)
    redactor = Redactor([DISTINCTIVE_TOKEN])
    with Transport(target, DISTINCTIVE_TOKEN) as transport:
        leftovers, problems = find_leftovers(transport, run_id, redactor)
        removals = remove_leftovers(transport, leftovers, run_id, redactor)
    assert problems == [] and all(removal.ok for removal in removals), removals
    return [leftover.path for leftover in leftovers]


def _unsafe_requests(proxy: DeviatingProxy, seeded: Seeded) -> list[str]:
    """Every request that changed (or tried to change) a pre-existing resource, or walked a path."""
    return [f"{r.method} {r.path}" for r in proxy.requests_seen
            if ".." in r.path or (r.method != "GET" and any(i in r.path for i in [*seeded.user_ids, seeded.group_id]))]


@pytest.mark.parametrize("how", ["swapped", "traversal"])
def test_a_create_answer_naming_a_pre_existing_resource_leaves_it_unchanged(
    how: str, seeded: Seeded, scim_server: EmbeddedServer, scim_client: httpx.Client, tmp_path: Path
):
    before = seeded.snapshot(scim_client)
    if how == "swapped":
        ids = {"Users": seeded.user_ids[1], "Groups": seeded.group_id}
        finding = "names another resource (it has userName"
    else:
        ids = {"Users": f"../Users/{seeded.user_ids[1]}", "Groups": f"../Groups/{seeded.group_id}"}
        finding = "cannot be used in a URL (it contains '/')"
    run_id = "own" + secrets.token_hex(3)
    with DeviatingProxy(scim_server.base_url, [_replace_created_id(ids)]) as proxy:
        result = run_scenarios(embedded_target(proxy.url, tmp_path), tmp_path / "reports", "--idp", "okta",
                               "--scim-run-id", run_id, paths=(USERS, GROUPS))
    assert result.code == 1, result.output[-3000:]
    assert "2 failed" in result.output, result.output[-3000:]
    assert f"the create answer's id \"{ids['Users']}\" {finding}" in result.output, result.output[-3000:]
    assert seeded.snapshot(scim_client) == before  # byte for byte: not patched, not deleted
    assert _unsafe_requests(proxy, seeded) == []
    # What the server really created was not recorded as the run's: it is left, and found by name.
    assert any(path.startswith("/Users/") for path in _sweep(scim_server, run_id))
    assert "Traceback" not in result.output


def test_a_traversal_id_read_from_a_list_answer_is_refused_before_the_delete(
    seeded: Seeded, scim_server: EmbeddedServer, scim_client: httpx.Client, tmp_path: Path
):
    # rfc-bulk captures the group's id from a list answer, then deletes /Groups/${group_id}.
    before = seeded.snapshot(scim_client)
    traversal = f"../Users/{seeded.user_ids[0]}"

    def rewrite(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
        body = response.json()
        if is_request(request, "GET", "Groups", item=False) and isinstance(body, dict) and body.get("Resources"):
            return response.with_json({**body, "Resources": [{**body["Resources"][0], "id": traversal}]})
        return response

    lie = Deviation("list-traversal-id", "a list answer carries a traversal id", "hostile target",
                    rewrite_response=rewrite)
    run_id = "own" + secrets.token_hex(3)
    with DeviatingProxy(scim_server.base_url, [lie]) as proxy:
        result = run_scenarios(embedded_target(proxy.url, tmp_path), tmp_path / "reports", "--idp", "rfc",
                               "--scim-run-id", run_id, paths=("scenarios/rfc/bulk.scenario.yaml",))
    assert result.code == 1, result.output[-3000:]
    assert 'step 4 "remove the g' in result.output, result.output[-3000:]
    assert (f"✗ the id \"{traversal}\" from the target cannot be used in a URL (it contains '/'): refused, "
            "nothing was sent to it") in result.output, result.output[-3000:]
    assert "Category: target deviates from RFC 7643/7644" in result.output
    assert seeded.snapshot(scim_client) == before
    assert _unsafe_requests(proxy, seeded) == []
    assert not any(r.method == "DELETE" for r in proxy.requests_seen)
    _sweep(scim_server, run_id)  # the bulk user and group, by name


def test_without_the_lie_the_same_run_passes_and_leaves_nothing(
    seeded: Seeded, scim_server: EmbeddedServer, scim_client: httpx.Client, tmp_path: Path
):
    # The control: the failures above come from the swapped ids, not from the proxy or the proof GETs.
    before = seeded.snapshot(scim_client)
    run_id = "own" + secrets.token_hex(3)
    with DeviatingProxy(scim_server.base_url) as proxy:
        result = run_scenarios(embedded_target(proxy.url, tmp_path), tmp_path / "reports", "--idp", "okta",
                               "--scim-run-id", run_id, paths=(USERS, GROUPS))
    assert result.code == 0, result.output[-3000:]
    assert seeded.snapshot(scim_client) == before
    assert _sweep(scim_server, run_id) == []


def _renamed_after_first_read(new_name: str) -> Deviation:
    """GET of a created resource answers truthfully once (the proof), then shows `new_name`."""
    reads: dict[str, int] = {}

    def rewrite(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
        body = response.json()
        if request.method != "GET" or response.status != 200 or not isinstance(body, dict) or "id" not in body:
            return response
        reads[request.route] = reads.get(request.route, 0) + 1
        return response.with_json({**body, "userName": new_name}) if reads[request.route] > 1 else response

    return Deviation("renamed-under-the-run", "a resource no longer carries the run's name",
                     "hostile target", rewrite_response=rewrite)


def test_cleanup_leaves_a_resource_that_no_longer_carries_the_runs_name(
    scim_server: EmbeddedServer, scim_client: httpx.Client, tmp_path: Path
):
    run_id = "own" + secrets.token_hex(3)
    with DeviatingProxy(scim_server.base_url, [_renamed_after_first_read("ceo@example.com")]) as proxy:
        result = run_scenarios(embedded_target(proxy.url, tmp_path), tmp_path / "reports", "--idp", "rfc",
                               "--scim-run-id", run_id, paths=(UNIQUENESS,))
    assert result.code == 1, result.output[-3000:]
    assert "left in place (it now has userName \"ceo@example.com\", not a name this run generated" in result.output
    assert not any(r.method == "DELETE" for r in proxy.requests_seen)
    assert len(_sweep(scim_server, run_id)) == 1  # left in place, and reported


# --- cleanup --run-id against a lying server --------------------------------------------------

def _list_shows(seeded: Seeded, run_id: str) -> Deviation:
    """List answers carry the pre-existing user and group beside names of run `run_id`."""
    data = RunData(run_id)

    def rewrite(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
        body = response.json()
        if request.method != "GET" or response.status != 200 or not isinstance(body, dict):
            return response
        if "Resources" not in body:
            return response
        if request.route.endswith("/Users"):
            fake = {"id": seeded.user_ids[0], "userName": data.user()["userName"], "active": True}
        else:
            fake = {"id": seeded.group_id, "displayName": data.group()["displayName"]}
        resources = [*body["Resources"], fake]
        return response.with_json({**body, "Resources": resources, "totalResults": len(resources)})

    return Deviation("list-lies", "a list answer shows another resource's id beside a run's name",
                     "hostile target", rewrite_response=rewrite)


def _create_for_run(client: httpx.Client, data: RunData) -> list[str]:
    user = client.post("Users", json={"schemas": [USER_SCHEMA], "userName": data.user()["userName"]})
    group = client.post("Groups", json={"schemas": [GROUP_SCHEMA], "displayName": data.group()["displayName"]})
    assert user.status_code == group.status_code == 201
    return [f"Users/{user.json()['id']}", f"Groups/{group.json()['id']}"]


def test_cleanup_run_id_does_not_trust_a_list_answer(
    seeded: Seeded, scim_server: EmbeddedServer, scim_client: httpx.Client
):
    run_id = "cl" + secrets.token_hex(3)
    mine = _create_for_run(scim_client, RunData(run_id, worker="7"))
    before = seeded.snapshot(scim_client)
    with DeviatingProxy(scim_server.base_url, [_list_shows(seeded, run_id)]) as proxy:
        result = cleanup_cli("--target", proxy.url, "--run-id", run_id)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert output.count("not a name this run generated") == 2, output
    assert "2 done, 2 not removed" in output
    assert seeded.snapshot(scim_client) == before
    assert _unsafe_requests(proxy, seeded) == []
    for path in mine:
        assert scim_client.get(path).status_code == 404, path


def _delete_is_a_lie(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    return ProxyResponse(204) if request.method == "DELETE" else request


def test_cleanup_run_id_reports_a_resource_still_there_after_a_204(
    scim_server: EmbeddedServer, scim_client: httpx.Client
):
    run_id = "cl" + secrets.token_hex(3)
    mine = _create_for_run(scim_client, RunData(run_id))
    lie = Deviation("delete-keeps", "DELETE answers 204 and keeps the resource", "hostile target",
                    rewrite_request=_delete_is_a_lie)
    with DeviatingProxy(scim_server.base_url, [lie]) as proxy:
        result = cleanup_cli("--target", proxy.url, "--run-id", run_id)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert output.count("still there") == 2, output
    assert "DELETE answered 204, but a GET still finds it there" in output
    assert "0 done, 2 not removed" in output
    for path in mine:
        assert scim_client.get(path).status_code == 200, path
    # Without the lie, the same cleanup removes both and says so.
    again = cleanup_cli("--target", scim_server.base_url, "--run-id", run_id)
    assert again.returncode == 0 and "2 done, 0 not removed" in again.stdout, again.stdout + again.stderr


def test_the_load_replay_never_touches_a_resource_a_create_answer_misnames(
    seeded: Seeded, scim_server: EmbeddedServer, scim_client: httpx.Client, tmp_path: Path
):
    """A load whose create answers name a pre-existing user neither updates nor removes that user."""
    from tests.perf.support import cli

    before = seeded.snapshot(scim_client)
    run_id = "own" + secrets.token_hex(3)
    swap = _replace_created_id({"Users": seeded.user_ids[1], "Groups": seeded.group_id})
    out = tmp_path / "load.json"
    with DeviatingProxy(scim_server.base_url, [swap]) as proxy:
        result = cli("load", "--target", embedded_target(proxy.url, tmp_path), "--idp", "entra", "--users", "3",
                     "--groups", "1", "--members", "2", "--concurrency", "1", "--duration", "20",
                     "--run-id", run_id, "--out", str(out), "--no-progress")
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["not_the_runs"] == {"users": 3, "groups": 1}, output
    assert report["created"]["users"] == 0 and report["created"]["groups"] == 0
    assert seeded.snapshot(scim_client) == before  # byte for byte: not updated, not deactivated, not deleted
    assert _unsafe_requests(proxy, seeded) == []
    # What the server really created carries the run's names: the sweep by name finds it.
    assert len([p for p in _sweep(scim_server, run_id) if p.startswith("/Users/")]) == 3
