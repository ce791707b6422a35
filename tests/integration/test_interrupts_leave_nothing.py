"""Ctrl-C or SIGTERM at any moment of a real run, cleanup included, leaves nothing the run created.

`python -m conformance run` in a child process against a scim2-server behind a proxy that slows
creates and removals, so that a signal sent at a random moment lands in a step, in a create
waiting for its answer, or inside a scenario's cleanup. Afterwards the server is read directly
(not through the proxy) for anything carrying the run's `scimc-<run id>-` prefix.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from conformance.engine.embedded import embedded_server
from tests.support.deviating_proxy import DeviatingProxy, Deviation, ProxyRequest
from tests.support.runs import DISTINCTIVE_TOKEN, REPO

SCENARIO = "scenarios/okta/group-push.scenario.yaml"  # two scenarios: 3 users and a group each
REPETITIONS = 16
BUDGET_S = 240  # the whole loop; each child also has its own limit
CHILD_LIMIT_S = 90
AUTH = {"Authorization": f"Bearer {DISTINCTIVE_TOKEN}"}


class SlowTarget:
    """Slows creates and removals; tells when a run sent its first create and its first cleanup removal.

    The scenario deletes its group itself; users are removed only by the cleanup.
    """

    def __init__(self, create_s: float, delete_s: float) -> None:
        self.create_s, self.delete_s = create_s, delete_s
        self.created = threading.Event()
        self.removing = threading.Event()
        self.deviation = Deviation("slow", "slow creates and removals", "test", rewrite_request=self._slow)

    def _slow(self, request: ProxyRequest) -> ProxyRequest:
        if request.method == "POST":
            self.created.set()
            time.sleep(self.create_s)
        elif request.method == "DELETE":
            if "/Users/" in request.path:
                self.removing.set()
            time.sleep(self.delete_s)
        return request

    def reset(self) -> None:
        self.created.clear()
        self.removing.clear()


def _start(*arguments: str) -> subprocess.Popen[str]:
    """`python -m conformance <arguments>` with the token, as a user would start it."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SCIM_CONFORMANCE_RUN_ID",) and not k.startswith("PYTEST_XDIST_")}
    env["SCIM_TOKEN"] = DISTINCTIVE_TOKEN
    return subprocess.Popen([sys.executable, "-m", "conformance", *arguments], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _start_run(proxy_url: str, reports: Path) -> subprocess.Popen[str]:
    return _start("run", "--target", proxy_url, "--reports", str(reports), SCENARIO)


def _interrupted_while_removing(slow: SlowTarget, signum: int, *arguments: str) -> tuple[int, str]:
    """Start `arguments`, send `signum` once its first removal of a user reached the target."""
    child = _start(*arguments)
    try:
        assert slow.removing.wait(60), f"{arguments[0]} never removed a user"
        child.send_signal(signum)
    finally:
        output = _finish(child)
    return child.returncode, output


def _finish(child: subprocess.Popen[str]) -> str:
    try:
        output, _ = child.communicate(timeout=CHILD_LIMIT_S)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    return output


def _run_id(output: str) -> str:
    found = re.search(r"run id ([A-Za-z0-9_-]+)", output)
    assert found, f"no run id on the header line:\n{output}"
    return found.group(1)


def _left_on_server(base_url: str, run_id: str) -> list[str]:
    """Every user and group on the server whose name carries the run's prefix (read without a filter)."""
    prefix = f"scimc-{run_id}-"
    left = []
    for collection, attribute in (("Users", "userName"), ("Groups", "displayName")):
        listed = httpx.get(f"{base_url}/{collection}", params={"count": 1000}, headers=AUTH, timeout=10).json()
        left += [f"/{collection}/{r['id']} {r[attribute]}" for r in listed.get("Resources", [])
                 if str(r.get(attribute, "")).startswith(prefix)]
    return left


def test_an_interrupt_at_a_random_moment_leaves_nothing_the_run_created(tmp_path: Path):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    slow = SlowTarget(create_s=0.1, delete_s=0.25)
    moments: list[str] = []
    started = time.monotonic()
    with embedded_server(DISTINCTIVE_TOKEN) as server, DeviatingProxy(server.base_url, [slow.deviation]) as proxy:
        for repetition in range(REPETITIONS):
            if time.monotonic() - started > BUDGET_S:
                break
            slow.reset()
            signum = rng.choice([signal.SIGINT, signal.SIGTERM])
            in_cleanup = repetition % 2 == 1  # every other one aims inside a scenario's cleanup
            child = _start_run(proxy.url, tmp_path / f"r{repetition}")
            try:
                assert (slow.removing if in_cleanup else slow.created).wait(60), "the run never got that far"
                delay = rng.uniform(0, 0.5 if in_cleanup else 2.5)
                time.sleep(delay)
                was_running = child.poll() is None
                child.send_signal(signum)
            finally:
                output = _finish(child)
            where = (f"repetition {repetition} (seed {seed}): {signal.Signals(signum).name} "
                     f"{delay:.2f} s after the first {'cleanup DELETE' if in_cleanup else 'POST'}")
            run_id = _run_id(output)
            assert _left_on_server(server.base_url, run_id) == [], f"{where}\n{output}"
            assert "Traceback" not in output, f"{where}\n{output}"
            if was_running and child.returncode == 130:
                assert re.search(r"run interrupted after \d+ scenario\(s\) finished|"
                                 r"Run interrupted before a scenario finished", output), f"{where}\n{output}"
                moments.append("cleanup" if in_cleanup else "anywhere")
            else:
                assert child.returncode in (0, 1), f"{where}\n{output}"  # the signal came after the end
                assert "scim-conformance summary" in output, f"{where}\n{output}"
    # The loop must have interrupted real runs, inside cleanups too, or it proved nothing.
    assert moments.count("cleanup") >= 3 and len(moments) >= REPETITIONS // 2, (seed, moments)


def test_a_second_interrupt_stops_the_cleanup_and_prints_the_command_that_finishes_it(tmp_path: Path):
    slow = SlowTarget(create_s=0, delete_s=1.0)
    with embedded_server(DISTINCTIVE_TOKEN) as server, DeviatingProxy(server.base_url, [slow.deviation]) as proxy:
        child = _start_run(proxy.url, tmp_path / "reports")
        try:
            assert slow.removing.wait(60), "the run never started its cleanup"
            child.send_signal(signal.SIGINT)  # held: the cleanup goes on
            time.sleep(0.3)
            child.send_signal(signal.SIGTERM)  # a second one: out at once
        finally:
            output = _finish(child)
        run_id = _run_id(output)
        assert child.returncode == 130, output
        command = f"scim-conformance cleanup --target {proxy.url} --run-id {run_id}"
        assert command in output, output
        assert DISTINCTIVE_TOKEN not in output
        left = _left_on_server(server.base_url, run_id)
        assert left, f"the cleanup was not stopped: nothing is left to show the command is needed\n{output}"
        # The printed command finishes the job.
        cleanup = subprocess.run(
            [sys.executable, "-m", "conformance", *command.split()[1:]], cwd=REPO,
            env={**os.environ, "SCIM_TOKEN": DISTINCTIVE_TOKEN}, capture_output=True, text=True,
            timeout=CHILD_LIMIT_S, check=False)
        assert cleanup.returncode == 0, cleanup.stdout + cleanup.stderr
        assert _left_on_server(server.base_url, run_id) == [], cleanup.stdout


def test_an_interrupt_during_the_load_cleanup_waits_until_everything_is_removed(tmp_path: Path):
    slow = SlowTarget(create_s=0, delete_s=0.1)
    with embedded_server(DISTINCTIVE_TOKEN) as server, DeviatingProxy(server.base_url, [slow.deviation]) as proxy:
        code, output = _interrupted_while_removing(
            slow, signal.SIGTERM, "load", "--target", proxy.url, "--users", "20", "--groups", "2", "--members", "5",
            "--concurrency", "2", "--run-id", "interrupted-load", "--no-progress")
        assert code == 130, output
        assert "deleted users: 20" in output and "NOT complete" not in output, output
        assert _left_on_server(server.base_url, "interrupted-load") == [], output


def test_an_interrupt_during_cleanup_run_id_waits_until_every_leftover_was_tried(tmp_path: Path):
    slow = SlowTarget(create_s=0, delete_s=0.3)
    with embedded_server(DISTINCTIVE_TOKEN) as server, DeviatingProxy(server.base_url, [slow.deviation]) as proxy:
        for n in range(1, 7):  # what a killed run 'seeded' left
            created = httpx.post(f"{server.base_url}/Users", headers=AUTH, timeout=10, json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"scimc-seeded-{n}.given.family@example.com"})
            assert created.status_code == 201, created.text
        code, output = _interrupted_while_removing(
            slow, signal.SIGINT, "cleanup", "--target", proxy.url, "--run-id", "seeded")
        assert code == 130, output
        assert output.count("  deleted ") == 6, output  # every removal tried and printed before it stopped
        assert _left_on_server(server.base_url, "seeded") == [], output
