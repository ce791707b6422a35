"""Running the scenario suite as a user would, in a child process, for integration tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
# A token nobody would type by accident: tests grep for it in everything the run leaves behind.
DISTINCTIVE_TOKEN = "tok-Zq8wX3vN5kP2mR7tL9yB4cH6dF1gJ0sE"


@dataclass(frozen=True)
class RunResult:
    code: int
    output: str  # stdout and stderr together, as a user sees them
    reports: Path


def run_scenarios(
    target: str,
    reports: Path,
    *args: str,
    token: str | None = DISTINCTIVE_TOKEN,
    paths: tuple[str, ...] = (str(SCENARIOS),),
    timeout: float = 240,
) -> RunResult:
    """`python -m pytest <scenarios> --scim-target <target> ...` with Allure and JUnit output."""
    # A test run by pytest-xdist must not pass its worker's variables on: the run would think
    # it is one of several workers (and skip what is not run in parallel).
    env = {k: v for k, v in os.environ.items()
           if k not in ("SCIM_TOKEN", "SCIM_CONFORMANCE_RUN_ID") and not k.startswith("PYTEST_XDIST_")}
    if token is not None:
        env["SCIM_TOKEN"] = token
    command = [
        sys.executable, "-m", "pytest", *paths, "--scim-target", target,
        "-p", "no:cacheprovider", "-o", "addopts=", "-v", "-rfE",
        "--alluredir", str(reports / "allure-results"), "--junitxml", str(reports / "junit.xml"),
        *args,
    ]
    completed = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return RunResult(completed.returncode, completed.stdout + completed.stderr, reports)


def everything_written(reports: Path) -> str:
    """The text of every file under `reports` (Allure results, attachments, JUnit XML)."""
    return "\n".join(
        p.read_text(encoding="utf-8", errors="replace") for p in sorted(reports.rglob("*")) if p.is_file()
    )


def embedded_target(base_url: str, directory: Path) -> str:
    """A target profile file for an already running scim2-server: the shipped embedded profile
    (capabilities, known deviations) pointed at `base_url`, so tests share one server."""
    data = yaml.safe_load((REPO / "profiles" / "targets" / "embedded.yaml").read_text(encoding="utf-8"))
    data.pop("embedded", None)
    data["base_url"] = base_url
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "embedded-at-url.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)


def scenario_items(*folders: Path) -> dict[str, list[str]]:
    """Scenario id -> the IdPs it is replayed as, for every scenario file in `folders`."""
    items: dict[str, list[str]] = {}
    for folder in folders:
        for path in sorted(Path(folder).glob("*.scenario.yaml")):
            scenario = yaml.safe_load(path.read_text(encoding="utf-8"))
            items[scenario["id"]] = scenario["idps"]
    return items


def known_failures(items: dict[str, list[str]]) -> dict[str, str]:
    """'id[idp]' -> reason, for the items the shipped embedded profile lists as known deviations."""
    from conformance.engine.profiles import load_target_profile

    profile = load_target_profile(REPO / "profiles" / "targets" / "embedded.yaml")
    return {f"{scenario_id}[{idp}]": reason for scenario_id, idps in items.items() for idp in idps
            if (reason := profile.known_failure(scenario_id, idp))}


def assert_passed_or_known(result: RunResult, items: dict[str, list[str]], known: dict[str, str]) -> None:
    """A `-rfExs` run of `items` went as the embedded profile says: every item passed, except
    the `known` deviations, each reported xfail with the profile's reason; nothing failed."""
    total = sum(len(idps) for idps in items.values())
    assert result.code == 0, result.output[-4000:]
    assert " failed" not in result.output and " error" not in result.output, result.output[-4000:]
    assert f"{total - len(known)} passed, {len(known)} xfailed" in result.output, result.output[-2000:]
    for item, reason in known.items():
        # -rx lists each xfail with the profile's reason: the run says how the server deviates.
        line = re.search(rf"^XFAIL \S+::{re.escape(item)} - (.*)$", result.output, re.MULTILINE)
        assert line, f"{item} is not reported as xfail\n{result.output[-3000:]}"
        assert line.group(1) == f"known deviation of target 'embedded': {reason}"
    for scenario_id, idps in items.items():
        for idp in idps:
            if f"{scenario_id}[{idp}]" not in known:
                assert f"::{scenario_id}[{idp}] PASSED" in result.output, f"{scenario_id}[{idp}] did not pass"
