"""Every run ends in bounded time: whole runs against targets that take connections and then stall.

A target that never answers stops a full `scim-conformance run` after a few scenarios, with one
message; headers dripped a byte at a time end at the deadline of one exchange (the end-of-session
request too); a scenario over its time limit fails saying so and still removes what it created;
`doctor` ends at the deadline as well. Each test bounds and asserts its own wall time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.engine.transport import SILENT_AFTER
from tests.hostile.servers import HostileServer, drip_headers, hang, users_that_hang
from tests.hostile.test_hostile_targets import LOOKUP, assert_failed_cleanly
from tests.support.runs import DISTINCTIVE_TOKEN, REPO, RunResult, run_scenarios

# The lookup scenario's head (an Okta user to create), with steps of its own.
CREATE_THEN_LOOK_UP = LOOKUP.partition("steps:\n")[0].replace("id: hostile-lookup", "id: deadline-create") + """\
steps:
  - name: create the user
    request:
      method: POST
      path: /Users
      body:
        schemas: [urn:ietf:params:scim:schemas:core:2.0:User]
        userName: ${user.userName}
        name: {givenName: "${user.givenName}", familyName: "${user.familyName}"}
        active: true
    expect: {status: 201}
    capture: {user_id: body.id}
  - name: look the user up by userName
    request:
      method: GET
      path: /Users
      query: {filter: 'userName eq "${user.userName}"'}
    expect: {status: 200}
"""


def _profile(folder: Path, url: str, timeouts: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "stalling.yaml"
    path.write_text(f"id: stalling\nbase_url: {url}/scim/v2\ntimeouts: {timeouts}\n")
    return str(path)


def _command(*args: str, timeout: float) -> RunResult:
    """`python -m conformance <args>` as a user runs it, with the distinctive token."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SCIM_TOKEN", "SCIM_CONFORMANCE_RUN_ID") and not k.startswith("PYTEST_XDIST_")}
    env["SCIM_TOKEN"] = DISTINCTIVE_TOKEN
    completed = subprocess.run([sys.executable, "-m", "conformance", *args], cwd=REPO, env=env, capture_output=True,
                               text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    return RunResult(completed.returncode, completed.stdout + completed.stderr, Path())


def test_a_target_that_never_answers_stops_a_full_run_after_three_scenarios(tmp_path: Path):
    with HostileServer(hang) as server:
        started = time.monotonic()
        result = _command("run", "--target", _profile(tmp_path, server.url, "{connect: 1, read: 1}"),
                          "--reports", str(tmp_path / "reports"), timeout=120)
        elapsed = time.monotonic() - started
    # Every shipped scenario (well over a hundred items) would otherwise wait its read timeout.
    assert elapsed < 40, result.output
    assert result.code == 1, result.output
    assert f"{SILENT_AFTER} failed" in result.output, result.output
    assert ("the target accepts connections but does not answer (3 requests in a row got no answer in time; the "
            "last: timed out (ReadTimeout) after 1.0s; raise timeouts.read in the target profile if the server is "
            "just slow") in result.output, result.output
    assert "the remaining scenarios were not run" in result.output
    assert "Traceback" not in result.output
    # Three scenarios asked once each; nothing more, not even the end-of-session request.
    assert len(server.requests) == SILENT_AFTER, [r.path for r in server.requests]
    assert not any("ServiceProviderConfig" in r.path for r in server.requests)


def test_headers_dripped_a_byte_at_a_time_end_at_the_deadline_with_the_reason(tmp_path: Path):
    scenario = tmp_path / "lookup.scenario.yaml"
    scenario.write_text(LOOKUP)
    with HostileServer(drip_headers) as server:
        started = time.monotonic()
        result = run_scenarios(_profile(tmp_path / "profile", server.url, "{connect: 1, read: 1}"),
                               tmp_path / "reports", paths=(str(scenario),), timeout=60)
        elapsed = time.monotonic() - started
    assert_failed_cleanly(result, "no usable answer from the target: timed out: the status line and headers of the "
                                  "answer were still not complete after 3.0s; the server sends its answer too slowly "
                                  "(one exchange may take 3 s: timeouts.exchange in the target profile")
    # The step and the end-of-session request (/ServiceProviderConfig), each ended at 3 s.
    assert [r.path.rpartition("/")[2].partition("?")[0] for r in server.requests] == ["Users", "ServiceProviderConfig"]
    assert elapsed < 25, result.output


@pytest.mark.parametrize("where", ["option", "profile"])
def test_a_scenario_over_its_time_limit_fails_saying_so_and_still_cleans_up(where: str, tmp_path: Path):
    scenario = tmp_path / "create-then-look-up.scenario.yaml"
    scenario.write_text(CREATE_THEN_LOOK_UP)
    lookups = users_that_hang(lambda method, path: method == "GET" and "filter=" in path)
    # One exchange may take 11 s: the scenario's limit of 2 s is what stops the lookup.
    timeouts = "{connect: 1, read: 5, scenario: 2}" if where == "profile" else "{connect: 1, read: 5}"
    options = ("--scim-scenario-timeout", "2") if where == "option" else ()
    with HostileServer(lookups) as server:
        started = time.monotonic()
        result = run_scenarios(_profile(tmp_path / "profile", server.url, timeouts), tmp_path / "reports",
                               *options, paths=(str(scenario),), timeout=60)
        elapsed = time.monotonic() - started
    assert result.code == 1, result.output
    messages = [e.get("message", "") for e in ET.parse(result.reports / "junit.xml").iter() if e.tag == "failure"]
    assert messages == ['step 2 "look the user up by userName": no usable answer from the target: timed out after '
                        "2.0s: the scenario's time limit of 2 s (timeouts.scenario in the target profile, or "
                        "--scim-scenario-timeout) ran out"], messages
    assert "Traceback" not in result.output
    methods = [(r.method, r.path.partition("?")[0].rpartition("/")[2]) for r in server.requests]
    assert ("POST", "Users") in methods
    assert ("DELETE", "u1") in methods, methods  # the cleanup still removed the user, after the limit
    assert elapsed < 25, result.output


def test_a_scenario_time_limit_that_is_not_a_positive_number_is_a_usage_error(tmp_path: Path):
    scenario = tmp_path / "lookup.scenario.yaml"
    scenario.write_text(LOOKUP)
    result = run_scenarios("http://127.0.0.1:9/scim/v2", tmp_path / "reports", "--scim-scenario-timeout", "inf",
                           paths=(str(scenario),), timeout=60)
    assert result.code == 4, result.output  # pytest's usage error
    assert "--scim-scenario-timeout: 'inf' is not a positive number of seconds" in result.output


def test_doctor_ends_at_the_deadline_when_headers_drip(tmp_path: Path):
    with HostileServer(drip_headers) as server:
        started = time.monotonic()
        result = _command("doctor", "--target", _profile(tmp_path, server.url, "{connect: 1, read: 1}"), timeout=60)
        elapsed = time.monotonic() - started
    assert result.code != 0, result.output
    assert "status line and headers of the answer were still not complete after 3.0s" in result.output, result.output
    assert "Traceback" not in result.output
    assert elapsed < 15, result.output
