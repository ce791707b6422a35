"""Helpers of the parallel, load and Locust tests: the server's contents, the CLI as a child."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.runs import DISTINCTIVE_TOKEN, REPO


def contents(client: httpx.Client) -> dict[str, list[str]]:
    """The ids of every user and group on the server (a few hundred at most in these tests)."""
    found: dict[str, list[str]] = {}
    for collection in ("Users", "Groups"):
        answer = client.get(collection, params={"count": 1000})
        answer.raise_for_status()
        found[collection] = sorted(r["id"] for r in answer.json().get("Resources", []))
    return found


def cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """`scim-conformance ARGS` in a child process with the distinctive token."""
    env = {k: v for k, v in os.environ.items() if k not in ("SCIM_CONFORMANCE_RUN_ID", "PYTEST_ADDOPTS")}
    env["SCIM_TOKEN"] = DISTINCTIVE_TOKEN
    return subprocess.run([sys.executable, "-m", "conformance", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def profile_for(base_url: str, folder: Path) -> str:
    from tests.support.runs import embedded_target

    return embedded_target(base_url, folder)
