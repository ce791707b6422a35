"""Hostile targets fail the run cleanly: one failing item with a one-line reason, never a crash.

Each test runs the suite the way a user does (a pytest child process, or `scim-conformance run`)
against a small stdlib server on loopback that misbehaves in one way. For each, the run exits
non-zero, names the reason, prints no Python traceback, still writes its Allure results and
JUnit XML, and leaves the bearer token nowhere. Targets that are down, slow (through a proxy),
answer HTML or garbage, or refuse the token are covered in tests/faults/test_deviating_targets.py;
this file covers the rest.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

from conformance.engine.transport import MAX_429_RETRIES
from tests.hostile.servers import (
    Behaviour,
    HostileServer,
    answer,
    drip,
    gzip_bomb,
    hang,
    huge,
    redirect,
    self_signed_context,
    too_many_requests,
    truncated,
)
from tests.support.runs import DISTINCTIVE_TOKEN, REPO, RunResult, everything_written, run_scenarios

# Our own scenarios, not the shipped ones (which grow): one item each, the first request a lookup.
LOOKUP = """\
id: hostile-lookup
title: Look a user up by userName (the first thing Okta and Entra send)
idps: [okta]
tags: [users]
requires: [users]
vars:
  user: ${fake.user()}
steps:
  - name: look the user up by userName (not there yet)
    request:
      method: GET
      path: /Users
      query: {filter: 'userName eq "${user.userName}"', startIndex: 1, count: 100}
    expect: {status: 200, schema: ListResponse, json: {totalResults: 0}}
"""
NEEDS_PATCH = LOOKUP.replace("id: hostile-lookup", "id: hostile-needs-patch").replace(
    "requires: [users]", "requires: [users, patch]")
FIRST_STEP = 'step 1 "look the user up by userName (not there yet)"'
SCIM_ERROR = json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "500",
                         "detail": "internal error"}).encode()


def assert_failed_cleanly(result: RunResult, reason: str) -> None:
    """Non-zero exit, the reason shown, no traceback, reports written, the token nowhere.

    The one-line reason is the failed item's title, `step 1 "<name>": <reason>`: JUnit consumers
    (CI summaries) show it as the failure message, and pytest prints it under the step.
    """
    assert result.code == 1, result.output
    assert reason in result.output, result.output
    assert "Traceback" not in result.output, result.output
    junit = result.reports / "junit.xml"
    assert junit.is_file(), result.output
    messages = [element.get("message", "") for element in ET.parse(junit).iter()
                if element.tag in ("failure", "error")]
    assert messages, junit.read_text()
    assert any(message.startswith(f"{FIRST_STEP}: ") and reason in message and "\n" not in message
               for message in messages), messages
    results = sorted((result.reports / "allure-results").glob("*-result.json"))
    assert results, "no Allure results written"
    statuses = {json.loads(path.read_text())["status"] for path in results}
    assert statuses <= {"failed", "broken"} and statuses, statuses
    assert DISTINCTIVE_TOKEN not in result.output + everything_written(result.reports)


@pytest.fixture
def scenario(tmp_path: Path) -> str:
    """The lookup scenario, written where the run can find it."""
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "lookup.scenario.yaml").write_text(LOOKUP)
    return str(folder / "lookup.scenario.yaml")


def _profile(folder: Path, url: str, extra: str = "") -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hostile.yaml"
    path.write_text(f"id: hostile\nbase_url: {url}/scim/v2\n{extra}")
    return str(path)


@dataclass(frozen=True)
class Case:
    """One misbehaviour, what the user must be told, and the timeouts the run gets."""

    behaviour: Behaviour
    reason: str
    timeouts: str = ""
    max_seconds: float = 60


CASES: dict[str, Case] = {
    "answers-500": Case(answer(500, SCIM_ERROR), "expected status 200, got 500"),
    "answers-plain-text": Case(answer(200, b"OK", "text/plain"), "expected a JSON body, got text/plain: 'OK'"),
    "answers-an-empty-200": Case(answer(200, b""), "expected a JSON body, got an empty body (status 200)"),
    "truncates-the-body": Case(truncated, "no usable answer from the target: RemoteProtocolError: "
                                          "peer closed connection without sending complete message body"),
    "sends-50-mb": Case(huge(), "no usable answer from the target: response body larger than 10 MB "
                                "(status 200, application/scim+json)"),
    "sends-a-gzip-bomb": Case(gzip_bomb(), "no usable answer from the target: response body larger than 10 MB"),
    "never-answers": Case(hang, "no usable answer from the target: timed out (ReadTimeout) after 1.",
                          "timeouts: {connect: 2, read: 1}\n", max_seconds=30),
    "drips-the-body": Case(drip, "no usable answer from the target: timed out: the answer (status 200) was still not "
                                 "complete after", "timeouts: {connect: 1, read: 1}\n", max_seconds=30),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_target_fails_the_run_cleanly(name: str, scenario: str, tmp_path: Path):
    case = CASES[name]
    with HostileServer(case.behaviour) as server:
        started = time.monotonic()
        result = run_scenarios(_profile(tmp_path, server.url, case.timeouts), tmp_path / "reports", paths=(scenario,))
        elapsed = time.monotonic() - started
    assert_failed_cleanly(result, case.reason)
    assert "1 failed" in result.output
    assert elapsed < case.max_seconds
    assert server.requests, "the target was never asked"
    assert server.requests[0].header("authorization") == f"Bearer {DISTINCTIVE_TOKEN}"


def test_a_host_name_that_does_not_resolve_fails_with_the_fix_named(scenario: str, tmp_path: Path):
    result = run_scenarios("http://scim-conformance-test.invalid/scim/v2", tmp_path, paths=(scenario,))
    assert_failed_cleanly(result, "no usable answer from the target: ConnectError: ")
    assert "the host name of the base URL does not resolve" in result.output


def test_a_redirect_to_another_host_is_shown_not_followed_and_the_token_never_gets_there(scenario: str,
                                                                                           tmp_path: Path):
    try:
        elsewhere = HostileServer(answer(200, b'{"totalResults": 0, "Resources": []}'), host="127.0.0.2")
    except OSError as exc:  # pragma: no cover - every Linux has 127.0.0.0/8 on loopback
        pytest.skip(f"cannot listen on 127.0.0.2: {exc}")
    with elsewhere, HostileServer(redirect(f"{elsewhere.url}/scim/v2/Users")) as server:
        result = run_scenarios(_profile(tmp_path, server.url), tmp_path / "reports", paths=(scenario,))
    assert_failed_cleanly(result, "expected status 200, got 302")
    assert f"location: {elsewhere.url}/scim/v2/Users".lower() in result.output.lower()  # the answer is shown
    assert server.requests and server.requests[0].header("authorization") == f"Bearer {DISTINCTIVE_TOKEN}"
    assert elsewhere.requests == []  # not followed: the other host never saw a request, nor the token


def test_429_is_retried_with_retry_after_then_fails_in_bounded_time(scenario: str, tmp_path: Path):
    with HostileServer(too_many_requests("1")) as server:
        started = time.monotonic()
        result = run_scenarios(_profile(tmp_path, server.url), tmp_path / "reports", paths=(scenario,))
        elapsed = time.monotonic() - started
    assert_failed_cleanly(result, "expected status 200, got 429")
    lookups = [r for r in server.requests if "/Users" in r.path]
    assert len(lookups) == MAX_429_RETRIES + 1  # one step, retried, then given up
    assert len({r.path for r in lookups}) == 1
    # After the run, environment.properties asks once for /ServiceProviderConfig, without retrying.
    assert [r.path for r in server.requests if r not in lookups] == ["/scim/v2/ServiceProviderConfig"]
    gaps = [b.at - a.at for a, b in pairwise(lookups)]
    assert all(gap >= 0.95 for gap in gaps), gaps  # Retry-After: 1 honoured
    assert elapsed < 60


# --- TLS: verification is on by default (tests/faults); these turn it off ---------------------

def _cli_run(*args: str, reports: Path, scenario: str) -> RunResult:
    env = {k: v for k, v in os.environ.items() if k not in ("SCIM_TOKEN", "SCIM_CONFORMANCE_RUN_ID")}
    env["SCIM_TOKEN"] = DISTINCTIVE_TOKEN
    completed = subprocess.run(
        [sys.executable, "-m", "conformance", "run", *args, "--reports", str(reports), scenario],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False, stdin=subprocess.DEVNULL,
    )
    return RunResult(completed.returncode, completed.stdout + completed.stderr, reports)


@pytest.fixture
def self_signed_500(tmp_path: Path) -> Callable[[], HostileServer]:
    """A factory for an HTTPS server with a self-signed certificate that answers 500 to everything."""

    def make() -> HostileServer:
        with self_signed_context(tmp_path) as context:
            return HostileServer(answer(500, SCIM_ERROR), tls=context)

    return make


def test_run_insecure_turns_tls_verification_off(self_signed_500: Callable[[], HostileServer], scenario: str,
                                                 tmp_path: Path):
    with self_signed_500() as server:
        verified = _cli_run("--target", f"{server.url}/scim/v2", reports=tmp_path / "verified", scenario=scenario)
        asked_while_verifying = len(server.requests)
        insecure = _cli_run("--target", f"{server.url}/scim/v2", "--insecure", reports=tmp_path / "insecure",
                            scenario=scenario)
    assert_failed_cleanly(verified, "CERTIFICATE_VERIFY_FAILED")
    assert asked_while_verifying == 0
    assert_failed_cleanly(insecure, "expected status 200, got 500")
    assert "warning: --insecure: TLS certificates are not verified" in insecure.output
    assert "CERTIFICATE_VERIFY_FAILED" not in insecure.output
    assert server.requests  # this time the requests got through


def test_run_insecure_keeps_the_rest_of_a_target_profile(self_signed_500: Callable[[], HostileServer],
                                                        tmp_path: Path):
    needs_patch = tmp_path / "needs-patch.scenario.yaml"
    needs_patch.write_text(NEEDS_PATCH)
    with self_signed_500() as server:
        profile = _profile(tmp_path / "profile", server.url, "tls: {ca_bundle: /nonexistent/ca.pem}\n"
                           "capabilities: {patch: false}\n")
        result = _cli_run("--target", profile, "--insecure", reports=tmp_path / "reports", scenario=str(needs_patch))
    # capabilities survived the copy: the scenario requires patch, so it is skipped, not sent
    assert result.code == 0, result.output
    assert "1 skipped" in result.output
    assert server.requests == []


def test_a_target_profile_with_tls_verify_false_reaches_a_self_signed_server(
    self_signed_500: Callable[[], HostileServer], scenario: str, tmp_path: Path
):
    with self_signed_500() as server:
        result = run_scenarios(_profile(tmp_path, server.url, "tls: {verify: false}\n"), tmp_path / "reports",
                               paths=(scenario,))
    assert_failed_cleanly(result, "expected status 200, got 500")
    assert "CERTIFICATE_VERIFY_FAILED" not in result.output


# --- a target that is down: stop early -------------------------------------------------------

def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_target_that_is_down_stops_the_run_after_the_first_scenario_with_one_message(scenario: str,
                                                                                        tmp_path: Path):
    for n in (2, 3):  # three scenarios in all: only the first may be tried
        (Path(scenario).parent / f"lookup-{n}.scenario.yaml").write_text(
            LOOKUP.replace("id: hostile-lookup", f"id: hostile-lookup-{n}"))
    result = run_scenarios(f"http://127.0.0.1:{_closed_port()}/scim/v2", tmp_path / "reports",
                           paths=(str(Path(scenario).parent),))
    assert_failed_cleanly(result, "no usable answer from the target: ConnectError: [Errno 111] Connection refused")
    assert "1 failed" in result.output
    assert "the target is unreachable (ConnectError: [Errno 111] Connection refused); " \
           "the remaining scenarios were not run" in result.output
