"""Capabilities the target lacks skip scenarios with the reason; an interrupted run still cleans up."""

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


def test_a_scenario_needing_a_capability_the_target_lacks_is_skipped_with_the_reason(tmp_path: Path):
    profile = tmp_path / "nopatch.yaml"
    profile.write_text("id: nopatch\nbase_url: http://127.0.0.1:9/scim/v2\ncapabilities: {patch: false}\n")
    result = run_scenarios(str(profile), tmp_path / "reports", "-rs",
                           paths=("scenarios/okta/profile-update-patch.scenario.yaml",))
    assert result.code == 0, result.output
    assert "1 skipped" in result.output
    assert "target 'nopatch' does not meet patch (scenario requires it)" in result.output


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_removes_what_it_created(signum: int, tmp_path: Path):
    created = threading.Event()

    def hold_reads_after_create(request: ProxyRequest) -> ProxyRequest:
        # Once the user exists, hold the next read so the run can be interrupted mid-scenario.
        if request.method == "POST":
            created.set()
        elif request.method == "GET" and created.is_set() and "/Users/" in request.path:
            time.sleep(3)
        return request

    hold = Deviation("hold", "holds reads after a create", "test", rewrite_request=hold_reads_after_create)
    with embedded_server(DISTINCTIVE_TOKEN) as server, DeviatingProxy(server.base_url, [hold]) as proxy:
        env = {**os.environ, "SCIM_TOKEN": DISTINCTIVE_TOKEN}
        child = subprocess.Popen(
            [sys.executable, "-m", "pytest", "scenarios/okta/push-new-user.scenario.yaml", "--scim-target",
             proxy.url, "-p", "no:cacheprovider", "-o", "addopts="],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            assert created.wait(30), "the run never created its user"
            time.sleep(0.5)  # now inside the held GET
            child.send_signal(signum)
            output, _ = child.communicate(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
        assert child.returncode != 0, output
        users = httpx.get(f"{server.base_url}/Users", headers={"Authorization": f"Bearer {DISTINCTIVE_TOKEN}"})
        assert users.json()["totalResults"] == 0, output
        assert any(r.method == "DELETE" for r in proxy.requests_seen), output


def test_two_scenarios_with_the_same_id_are_a_collection_error_naming_both_files(tmp_path: Path):
    folder = tmp_path / "scenarios" / "okta"
    folder.mkdir(parents=True)
    (tmp_path / "scenarios" / "shared").symlink_to(REPO / "scenarios" / "shared")
    source = (REPO / "scenarios/okta/push-new-user.scenario.yaml").read_text()
    (folder / "a.scenario.yaml").write_text(source)
    (folder / "b.scenario.yaml").write_text(source)
    result = run_scenarios("http://127.0.0.1:9/v2", tmp_path / "r", paths=(str(folder),))
    assert result.code != 0
    assert f"{folder / 'b.scenario.yaml'}:1: scenario id 'okta-push-new-user' is already used by " \
           f"{folder / 'a.scenario.yaml'}" in result.output
