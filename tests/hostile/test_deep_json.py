"""A target answering JSON nested 1,000 deep (2 kB): a finding that names the depth, never a crash.

Such a body used to end the whole run in a RecursionError (no JUnit, no summary) and `doctor`
in a traceback. Here `scim-conformance run` goes through two scenarios against it, each fails with
the depth named, and JUnit and the summary are written; `doctor` prints one clear line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from conformance.engine.jsondepth import TOO_DEEP
from tests.hostile.servers import HostileServer, answer
from tests.support.runs import DISTINCTIVE_TOKEN, REPO

DEEP = b"[" * 1000 + b"]" * 1000
SCENARIO = """\
id: deep-{n}
title: Look a user up by userName ({n})
idps: [okta]
tags: [users]
requires: [users]
steps:
  - name: look the user up
    request: {{method: GET, path: /Users, query: {{filter: 'userName eq "x{n}"'}}}}
    expect: {{status: 200}}
"""


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SCIM_TOKEN", "SCIM_CONFORMANCE_RUN_ID") and not k.startswith("PYTEST_XDIST_")}
    env["SCIM_TOKEN"] = DISTINCTIVE_TOKEN
    return subprocess.run([sys.executable, "-m", "conformance", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120, check=False, stdin=subprocess.DEVNULL)


def test_a_run_against_1000_deep_json_fails_each_scenario_with_the_depth_named(tmp_path: Path):
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    for n in (1, 2):
        (scenarios / f"deep-{n}.scenario.yaml").write_text(SCENARIO.format(n=n))
    reports = tmp_path / "reports"
    with HostileServer(answer(200, DEEP)) as server:
        done = _cli("run", "--target", f"{server.url}/scim/v2", "--reports", str(reports), str(scenarios))
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output and "RecursionError" not in output, output
    assert "scim-conformance summary" in output, output
    junit = ET.parse(reports / "junit.xml")
    messages = [element.get("message", "") for element in junit.iter() if element.tag == "failure"]
    assert len(messages) == 2, messages  # the run went on to the second scenario
    assert all(TOO_DEEP in message for message in messages), messages
    asked = [request.path for request in server.requests]
    assert any("x1" in path for path in asked) and any("x2" in path for path in asked), asked


def test_doctor_against_1000_deep_json_prints_one_clear_line(tmp_path: Path):
    with HostileServer(answer(200, DEEP)) as server:
        done = _cli("doctor", "--target", f"{server.url}/scim/v2")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output, output
    assert f"answered 200, {TOO_DEEP}: the server's answer is broken" in output, output
