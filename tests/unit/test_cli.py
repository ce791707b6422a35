"""The command line as a user meets it: lint errors, list, help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conformance.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False)


def test_lint_passes_on_the_shipped_scenarios_and_profiles():
    result = cli("lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems" in result.stderr


def test_lint_prints_path_line_message_and_exits_non_zero_without_a_traceback(tmp_path: Path):
    broken = tmp_path / "broken.scenario.yaml"
    broken.write_text(
        "id: broken\n"
        "title: a broken scenario\n"
        "idps: [okta]\n"
        "steps:\n"
        "  - name: uses an undefined name\n"
        "    request: {method: GET, path: '/Users/${nobody.id}'}\n"
        "    expect: {status: 200, stauts: 201}\n"
    )
    result = cli("lint", str(broken))
    assert result.returncode == 1
    assert f"{broken}:6: request: template references undefined name 'nobody'" in result.stdout
    assert f"{broken}:7: unknown check 'stauts'" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_lint_reports_bad_yaml_with_its_line(tmp_path: Path):
    broken = tmp_path / "bad.scenario.yaml"
    broken.write_text("id: bad\ntitle: [unclosed\nidps: [okta]\n")
    result = cli("lint", str(broken))
    assert result.returncode == 1
    assert result.stdout.startswith(f"{broken}:")
    assert "invalid YAML" in result.stdout
    assert "Traceback" not in result.stderr


def test_lint_of_a_missing_path_says_so():
    result = cli("lint", "no/such/file.scenario.yaml")
    assert result.returncode == 2
    assert "no/such/file.scenario.yaml: no such file or folder" in result.stderr


def test_list_shows_each_scenario_with_its_idps():
    result = cli("list")
    assert result.returncode == 0, result.stderr
    assert "okta-push-new-user" in result.stdout and "okta" in result.stdout
    assert "entra-test-connection-and-create" in result.stdout


def test_help_names_every_command():
    result = cli("--help")
    for command in ("run", "demo", "lint", "list", "report"):
        assert command in result.stdout


def test_run_without_a_target_is_a_usage_error():
    result = cli("run")
    assert result.returncode == 2
    assert "--target" in result.stderr
