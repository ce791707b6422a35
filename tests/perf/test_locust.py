"""The load cycle through Locust in distributed mode: one master and two workers on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from conformance.engine.embedded import EmbeddedServer
from tests.perf.support import contents, free_port
from tests.support.runs import DISTINCTIVE_TOKEN, REPO

# Not imported here: importing locust monkey-patches the whole process with gevent.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("locust") is None,
                                reason="the Locust test needs the load extra: pip install -e '.[load]'")

LOCUSTFILE = str(REPO / "conformance" / "loadtest" / "locustfile.py")


def test_one_master_two_workers_share_the_cycle_without_failures_and_clean_up(
        scim_server: EmbeddedServer, scim_client: httpx.Client, tmp_path: Path):
    before = contents(scim_client)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env["SCIM_TOKEN"] = DISTINCTIVE_TOKEN
    locust = [sys.executable, "-m", "locust", "-f", LOCUSTFILE]
    master = subprocess.Popen(
        [*locust, "--headless", "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
         "--expect-workers", "2", "--expect-workers-max-wait", "30", "--host", scim_server.base_url,
         "-u", "4", "-r", "4", "-t", "10s", "--only-summary", "--scim-users-per-locust", "20",
         "--scim-members", "10", "--scim-batch", "5", "--scim-report", str(tmp_path / "workers.json"),
         "--json-file", str(tmp_path / "stats")],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    workers = [subprocess.Popen([*locust, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
                                cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(2)]
    try:
        master_out, _ = master.communicate(timeout=90)
        worker_out = [w.communicate(timeout=90)[0] for w in workers]
    finally:
        for process in (master, *workers):
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    assert master.returncode == 0, master_out[-3000:]
    assert all(w.returncode == 0 for w in workers), worker_out

    by_worker = json.loads((tmp_path / "workers.json").read_text(encoding="utf-8"))["workers"]
    assert len(by_worker) == 2 and all(count > 0 for count in by_worker.values()), by_worker
    stats = json.loads((tmp_path / "stats.json").read_text(encoding="utf-8"))
    by_name = {entry["name"]: entry for entry in stats}
    assert {"lookup_user", "create_user", "create_group", "add_members"} <= set(by_name), sorted(by_name)
    assert sum(e["num_requests"] for e in stats) == sum(by_worker.values())
    assert sum(e["num_failures"] for e in stats) == 0, stats
    # Each worker removed what its users created when it quit.
    assert all("scim-load cleanup" in out and "failed" not in out.split("scim-load cleanup")[-1]
               for out in worker_out), worker_out
    assert contents(scim_client) == before
