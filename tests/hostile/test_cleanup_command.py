"""`scim-conformance cleanup` removes a killed run's leftovers, and only those, from a real server.

Arranged on the embedded scim2-server: users and groups of run A (the one to clean), of run B
whose id starts like A's (`<A>-2`, so the server's `sw` filter matches its names too), of an
unrelated run, a hand-made name that starts like A's, and ordinary users and groups. After the
cleanup of A, A's resources are gone (or inactive) and every other resource reads back
byte for byte as before.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from conformance.engine.cleanup import belongs_to_run, find_leftovers, name_prefix
from conformance.engine.embedded import EmbeddedServer
from conformance.engine.fakedata import RunData
from conformance.engine.profiles import TargetProfile
from conformance.engine.redact import Redactor
from conformance.engine.transport import Transport
from tests.support.runs import DISTINCTIVE_TOKEN, REPO

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


@dataclass
class Arranged:
    """What the test put on the server: run A's resource paths, and everyone else's."""

    run_a: str
    a_users: list[str] = field(default_factory=list)
    a_groups: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)

    def snapshot(self, client: httpx.Client) -> dict[str, bytes]:
        bodies = {}
        for path in self.others:
            response = client.get(path)
            assert response.status_code == 200, (path, response.text)
            bodies[path] = response.content
        return bodies


def _user(client: httpx.Client, user_name: str) -> str:
    response = client.post("Users", json={"schemas": [USER_SCHEMA], "userName": user_name, "active": True})
    assert response.status_code == 201, response.text
    return f"Users/{response.json()['id']}"


def _group(client: httpx.Client, display_name: str, members: list[str] | None = None) -> str:
    body = {"schemas": [GROUP_SCHEMA], "displayName": display_name,
            "members": [{"value": path.split("/")[1]} for path in members or []]}
    response = client.post("Groups", json=body)
    assert response.status_code == 201, response.text
    return f"Groups/{response.json()['id']}"


@pytest.fixture
def arranged(scim_client: httpx.Client) -> Arranged:
    run_a = "cl" + secrets.token_hex(3)  # unique per test: the server is shared by the session
    a, a_worker = RunData(run_a), RunData(run_a, worker="1")
    b, unrelated = RunData(f"{run_a}-2"), RunData("zz" + secrets.token_hex(3))
    result = Arranged(run_a)
    result.a_users = [_user(scim_client, a.user()["userName"]), _user(scim_client, a.user("tricky")["userName"]),
                      _user(scim_client, a_worker.user()["userName"])]
    result.a_groups = [_group(scim_client, a.group()["displayName"], result.a_users[:2]),
                       _group(scim_client, a_worker.group()["displayName"])]
    b_users = [_user(scim_client, b.user()["userName"]), _user(scim_client, unrelated.user()["userName"])]
    result.others = [
        *b_users,
        _user(scim_client, f"{name_prefix(run_a)}admin@example.com"),  # starts like A's, but a person typed it
        _user(scim_client, f"alice.{run_a}@example.com"),
        _group(scim_client, b.group()["displayName"], b_users),
        _group(scim_client, f"Engineering {run_a}"),
    ]
    return result


def cleanup_cli(*args: str, token: str | None = DISTINCTIVE_TOKEN) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCIM_TOKEN"}
    if token is not None:
        env["SCIM_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "conformance", "cleanup", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL)


def test_cleanup_removes_the_runs_groups_then_users_and_nothing_else(
    arranged: Arranged, scim_server: EmbeddedServer, scim_client: httpx.Client
):
    before = arranged.snapshot(scim_client)
    result = cleanup_cli("--target", scim_server.base_url, "--run-id", arranged.run_a)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"Leftovers of run {arranged.run_a} on {scim_server.base_url}: 2 group(s), 3 user(s)" in output
    for path in arranged.a_users + arranged.a_groups:
        assert scim_client.get(path).status_code == 404, path
        assert f"deleted          /{path}" in output
    lines = [line for line in result.stdout.splitlines() if line.startswith("  deleted")]
    assert [line.split()[1].split("/")[1] for line in lines] == ["Groups"] * 2 + ["Users"] * 3
    assert "5 done, 0 not removed" in output
    assert arranged.snapshot(scim_client) == before  # byte for byte
    assert DISTINCTIVE_TOKEN not in output and "Traceback" not in output


def test_a_dry_run_lists_and_changes_nothing(arranged: Arranged, scim_server: EmbeddedServer,
                                             scim_client: httpx.Client):
    mine = Arranged(arranged.run_a, others=arranged.a_users + arranged.a_groups + arranged.others)
    before = mine.snapshot(scim_client)
    result = cleanup_cli("--target", scim_server.base_url, "--run-id", arranged.run_a, "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(dry run: nothing is changed)" in result.stdout
    assert result.stdout.count("would be deleted") == 5
    assert "5 to do, 0 not removed" in result.stdout
    assert mine.snapshot(scim_client) == before


def test_a_deactivate_only_target_gets_its_users_deactivated(
    arranged: Arranged, scim_server: EmbeddedServer, scim_client: httpx.Client, tmp_path: Path
):
    profile = tmp_path / "deactivate-only.yaml"
    profile.write_text(f"id: deactivate-only\nbase_url: {scim_server.base_url}\n"
                       "capabilities: {delete_users: false, patch: true}\n")
    before = arranged.snapshot(scim_client)
    result = cleanup_cli("--target", str(profile), "--run-id", arranged.run_a)
    assert result.returncode == 0, result.stdout + result.stderr
    for path in arranged.a_groups:
        assert scim_client.get(path).status_code == 404
    for path in arranged.a_users:
        response = scim_client.get(path)
        assert response.status_code == 200 and response.json()["active"] is False
        assert f"deactivated      /{path}" in result.stdout
    assert arranged.snapshot(scim_client) == before
    # A second cleanup finds the inactive users again and leaves them be.
    again = cleanup_cli("--target", str(profile), "--run-id", arranged.run_a)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("already inactive") == 3


def test_users_the_target_can_neither_delete_nor_deactivate_fail_the_command(
    arranged: Arranged, scim_server: EmbeddedServer, scim_client: httpx.Client, tmp_path: Path
):
    profile = tmp_path / "stuck.yaml"
    profile.write_text(f"id: stuck\nbase_url: {scim_server.base_url}\n"
                       "capabilities: {delete_users: false, patch: false}\n")
    result = cleanup_cli("--target", str(profile), "--run-id", arranged.run_a)
    assert result.returncode == 1
    assert result.stdout.count("left in place") == 3
    assert "neither deletes users nor supports PATCH" in result.stdout
    assert "2 done, 3 not removed" in result.stdout
    for path in arranged.a_users:
        assert scim_client.get(path).status_code == 200


def test_listing_pages_through_results_and_without_filter_still_picks_only_the_run(
    arranged: Arranged, scim_server: EmbeddedServer
):
    redactor = Redactor([DISTINCTIVE_TOKEN])
    expected = {path.split("/")[1] for path in arranged.a_users + arranged.a_groups}
    for capabilities in (frozenset({"filter"}), frozenset()):  # with the sw filter, then listing everything
        target = TargetProfile(id="t", base_url=scim_server.base_url, capabilities=capabilities)
        with Transport(target, DISTINCTIVE_TOKEN) as transport:
            found, problems = find_leftovers(transport, arranged.run_a, redactor, page_size=2)
            pages = len(transport.exchanges)
        assert problems == []
        assert {leftover.id for leftover in found} == expected
        assert [leftover.collection for leftover in found] == ["/Groups"] * 2 + ["/Users"] * 3
        assert pages >= 3  # 2 groups and 3 users, 2 a page: it did page


def test_a_target_that_is_down_or_refuses_the_token_fails_with_the_reason(
    arranged: Arranged, scim_server: EmbeddedServer
):
    refused = cleanup_cli("--target", scim_server.base_url, "--run-id", arranged.run_a, token="wrong-token-123")
    assert refused.returncode == 1
    assert "error: cannot list /Groups: answered 401" in refused.stderr
    assert "wrong-token-123" not in refused.stdout + refused.stderr
    down = cleanup_cli("--target", "http://127.0.0.1:9/scim/v2", "--run-id", arranged.run_a)
    assert down.returncode == 1
    assert "error: cannot list /Groups: ConnectError" in down.stderr
    assert "Traceback" not in down.stdout + down.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("--target", "http://127.0.0.1:9/v2", "--run-id", 'x" or userName pr "'), "a run id is letters, digits"),
    (("--target", "embedded", "--run-id", "abc123"), "the embedded server starts empty"),
    (("--target", "nosuch-profile", "--run-id", "abc123"), "is neither a URL, a profile file, nor a profile name"),
])
def test_usage_errors(args: tuple[str, ...], message: str):
    result = cleanup_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_help_explains_the_command_with_an_example():
    result = subprocess.run([sys.executable, "-m", "conformance", "cleanup", "--help"], cwd=REPO,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0
    assert "scim-conformance cleanup --target https://scim.example.com/scim/v2 --run-id" in result.stdout
    assert "--dry-run" in result.stdout and "SCIM_TOKEN" in result.stdout


# --- which names belong to a run ------------------------------------------------------------

def test_every_name_the_generator_makes_belongs_to_its_run_and_to_no_other():
    names = []
    for data in (RunData("abc123"), RunData("abc123", worker="3")):
        names += [data.user()["userName"], data.user("tricky")["userName"], data.group()["displayName"]]
    for name in names:
        assert belongs_to_run(name, "abc123"), name
        assert not belongs_to_run(name, "abc12"), name
        assert not belongs_to_run(name, "abc1234"), name
    other = RunData("abc123-4")
    assert belongs_to_run(other.user()["userName"], "abc123-4")
    assert not belongs_to_run(other.user()["userName"], "abc123")


@pytest.mark.parametrize("name", [
    "scimc-abc123-admin@example.com", "scimc-abc123-", "scimc-abc123", "xscimc-abc123-1.a.b@example.com",
    "SCIMC-abc123-1.a.b@example.com", "scimc-abc123-1", None, 17, "alice@example.com",
])
def test_names_that_do_not_have_the_generated_shape_are_never_taken(name: object):
    assert not belongs_to_run(name, "abc123")
