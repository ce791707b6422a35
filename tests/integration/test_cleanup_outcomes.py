"""Whatever the outcome of a run, it removes what it created and leaves everything else as it was.

For each outcome (a target deviation, a harness error in the middle of a scenario, Ctrl-C while a
request is in flight) a fresh scim2-server holds a user and a group that existed before the run;
afterwards the server holds exactly those, byte for byte (same meta.version and lastModified).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from conformance.engine.embedded import embedded_server
from tests.support.deviating_proxy import DeviatingProxy, Deviation, ProxyRequest
from tests.support.runs import DISTINCTIVE_TOKEN, REPO, run_scenarios

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"

SCENARIO = """\
id: cleanup-{outcome}
title: creates a user and a group, then {outcome}
idps: [okta]
vars:
  user: ${{fake.user()}}
  group_name: ${{fake.group().displayName}}
steps:
  - use: create-user
  - use: create-empty-group
  - name: add the user to the group
    vars: {{changed_ids: "${{list(user_id)}}", member_ids: "${{list(user_id)}}"}}
    request: {{idp: add_members}}
    expect: {{status: [200, 204]}}
  - name: the step where it ends
    request: {{idp: get_user}}
    expect: {{status: 200, json: {last}}}
"""
LAST = {
    "fails": '{active: "not a boolean"}',  # the target's true never equals a string
    "errors": '{userName: "${user.no_such_key}"}',  # a runtime template error: harness error
    "is-interrupted": "{active: true}",
}


def _snapshot(client: httpx.Client) -> dict[str, list[dict]]:
    return {
        endpoint: sorted(client.get(endpoint, params={"count": 1000}).json().get("Resources", []),
                         key=lambda r: r["id"])
        for endpoint in ("Users", "Groups")
    }


def _scenario(tmp_path: Path, outcome: str) -> Path:
    folder = tmp_path / "scenarios" / "cleanup"
    folder.mkdir(parents=True)
    (tmp_path / "scenarios" / "shared").symlink_to(REPO / "scenarios" / "shared")
    path = folder / f"{outcome}.scenario.yaml"
    path.write_text(SCENARIO.format(outcome=outcome, last=LAST[outcome]), encoding="utf-8")
    return path


@pytest.mark.parametrize("outcome", sorted(LAST))
def test_a_run_removes_what_it_created_and_leaves_the_rest_untouched(outcome: str, tmp_path: Path):
    scenario = _scenario(tmp_path, outcome)
    reached_last_step = threading.Event()
    member_added = threading.Event()

    def hold_last_read(request: ProxyRequest) -> ProxyRequest:
        # The last step is the first GET of a user once the member was added (the creates read
        # their own resource back before that): hold it so Ctrl-C lands in flight.
        if request.method in ("PATCH", "PUT") and "/Groups/" in request.route:
            member_added.set()
        if outcome == "is-interrupted" and member_added.is_set() and request.method == "GET" \
                and "/Users/" in request.route:
            reached_last_step.set()
            time.sleep(3)
        return request

    hold = Deviation("hold", "holds the last read", "test", rewrite_request=hold_last_read)
    with embedded_server(DISTINCTIVE_TOKEN) as server, DeviatingProxy(server.base_url, [hold]) as proxy, \
            httpx.Client(base_url=server.base_url + "/", timeout=10,
                         headers={"Authorization": f"Bearer {DISTINCTIVE_TOKEN}"}) as client:
        someone = client.post("Users", json={"schemas": [USER_SCHEMA], "userName": "pre.existing@example.com",
                                             "name": {"givenName": "Pre", "familyName": "Existing"}})
        client.post("Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "Pre-existing group",
                                    "members": [{"value": someone.json()["id"]}]})
        before = _snapshot(client)

        if outcome == "is-interrupted":
            child = subprocess.Popen(
                [sys.executable, "-m", "pytest", str(scenario), "--scim-target", proxy.url,
                 "-p", "no:cacheprovider", "-o", "addopts="],
                cwd=REPO, env={**os.environ, "SCIM_TOKEN": DISTINCTIVE_TOKEN},
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
            try:
                assert reached_last_step.wait(30), "the run never reached its last step"
                child.send_signal(signal.SIGINT)
                output, _ = child.communicate(timeout=60)
            finally:
                if child.poll() is None:
                    child.kill()
            assert child.returncode != 0, output
        else:
            result = run_scenarios(proxy.url, tmp_path / "reports", paths=(str(scenario),))
            output = result.output
            assert result.code == 1, output
            expected = ("harness or scenario error" if outcome == "errors"
                        else '$.active: expected "not a boolean", got true')
            assert expected in output

        assert _snapshot(client) == before, output
        deletes = [r.path for r in proxy.requests_seen if r.method == "DELETE"]
        assert len(deletes) == 2, deletes  # the run's group and user, nothing else
