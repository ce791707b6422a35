"""The command line as a user meets it: lint errors, list, help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conformance", *args], cwd=cwd, capture_output=True,
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


def test_help_names_the_cleanup_command_and_run_has_insecure():
    assert "cleanup" in cli("--help").stdout
    run_help = cli("run", "--help").stdout
    assert "--insecure" in run_help and "TLS certificate" in run_help


def _scenario(path: Path, scenario_id: str) -> Path:
    path.write_text(f"id: {scenario_id}\ntitle: t\nidps: [okta]\nsteps:\n"
                    "  - name: look up\n    request: {method: GET, path: /Users}\n")
    return path


def test_lint_finds_a_scenario_id_used_twice_as_a_run_would(tmp_path: Path):
    first, second = _scenario(tmp_path / "a.scenario.yaml", "same"), _scenario(tmp_path / "b.scenario.yaml", "same")
    result = cli("lint", str(first), str(second))
    assert result.returncode == 1
    assert f"{second}:1: scenario id 'same' is already used by {first}" in result.stdout
    assert cli("lint", str(first)).returncode == 0


def test_lint_of_a_named_file_it_would_not_read_says_so(tmp_path: Path):
    stray = _scenario(tmp_path / "lookup.yaml", "stray")
    misnamed = _scenario(tmp_path / "lookup.scenario.yml", "misnamed")
    result = cli("lint", str(stray), str(misnamed))
    assert result.returncode == 1
    assert f"{stray}:1: not a file scim-conformance reads" in result.stdout
    assert f"{misnamed}:1: a scenario file must end in .scenario.yaml" in result.stdout
    assert "2 file(s) checked: 2 problem(s) in 2 file(s)" in result.stderr


def test_lint_of_an_idp_profile_outside_the_profiles_folder_loads_it(tmp_path: Path):
    broken = tmp_path / "idp" / "acme.yaml"
    broken.parent.mkdir()
    broken.write_text("id: acme\nname: ACME\nheaders: {}\nrequests: {get: {method: GET}}\n")
    result = cli("lint", str(broken))  # without --profiles: the shipped profiles are the run's
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{broken}:4: " in result.stdout and "'path' is a required property" in result.stdout


def test_lint_of_one_steps_file_checks_its_folder_together(tmp_path: Path):
    text = "sequences:\n  same:\n    steps:\n      - name: x\n        request: {method: GET, path: /Users}\n"
    (tmp_path / "a.steps.yaml").write_text(text)
    (tmp_path / "b.steps.yaml").write_text(text)
    result = cli("lint", str(tmp_path / "a.steps.yaml"))
    assert result.returncode == 1
    assert f"{tmp_path / 'b.steps.yaml'}:2: sequence 'same' is also defined in" in result.stdout


def test_insecure_turns_verification_off_keeps_the_rest_of_the_target_and_writes_nothing(tmp_path: Path):
    from conformance.commands.cli import build_parser
    from conformance.commands.pytest_run import pytest_args
    from conformance.engine.target import resolve

    target = resolve("https://scim.example.com/scim/v2?aadOptscim062020", None, insecure=True)
    assert target.verify_tls is False
    assert target.base_url == "https://scim.example.com/scim/v2?aadOptscim062020"

    profile = tmp_path / "targets" / "corp.yaml"
    profile.parent.mkdir()
    profile.write_text("id: corp\nbase_url: https://scim.corp.example/v2\ntls: {ca_bundle: /etc/corp.pem}\n"
                       "timeouts: {read: 7}\ncapabilities: {etag: true}\n")
    target = resolve(str(profile), None, insecure=True)
    assert target.verify_tls is False  # the ca_bundle does not win over --insecure
    assert (target.verify_tls, target.read_timeout, "etag" in target.capabilities) == (False, 7.0, True)
    assert resolve(str(profile), None).verify_tls == "/etc/corp.pem"
    assert resolve("embedded", None, insecure=True) == resolve("embedded", None)

    # `run --insecure` hands the setting to the plugin as an option: no profile copy is written.
    args = build_parser().parse_args(["run", "--target", str(profile), "--insecure"])
    argv = pytest_args(args, [], tmp_path / "reports")
    assert argv[argv.index("--scim-target") + 1] == str(profile) and "--scim-insecure" in argv
    assert "--scim-insecure" not in pytest_args(build_parser().parse_args(["run", "--target", "x"]), [], tmp_path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["corp.yaml", "targets"]


def test_the_summary_takes_each_failure_cause_from_the_report_data_not_its_text():
    import pytest

    from conformance.commands.pytest_run import RunSummary
    from conformance.pytest_plugin.plugin import CAUSE_PROPERTY

    def report(name: str, outcome: str, **extra: object) -> pytest.TestReport:
        return pytest.TestReport(nodeid=f"scenarios/okta/a.scenario.yaml::{name}", location=("a", 0, name),
                                 keywords={}, outcome=outcome, longrepr="Step 9 (not this)\n✗ nor this" if
                                 outcome == "failed" else None, when="call", **extra)

    summary = RunSummary()
    summary.pytest_runtest_logreport(report("push[okta]", "passed"))
    summary.pytest_runtest_logreport(report("push[entra]", "failed", user_properties=[
        (CAUSE_PROPERTY, 'step 1 "look up": expected status 200, got 500')]))
    summary.pytest_runtest_logreport(report("other[entra]", "failed"))
    assert summary.failures == [("push[entra]", 'step 1 "look up": expected status 200, got 500'),
                                ("other[entra]", "failed")]
    assert (summary.outcomes["okta"]["passed"], summary.outcomes["entra"]["failed"]) == (1, 2)


def test_run_reads_its_options_after_and_between_paths_and_gives_what_follows_double_dash_to_pytest(tmp_path: Path):
    first, second = "scenarios/okta/push-new-user.scenario.yaml", "scenarios/rfc/users-create.scenario.yaml"
    # --html after a path: read as run's option (pytest used to get it and refuse it); -k selects nothing.
    result = cli("run", "--target", "embedded", first, "--html", "--reports", str(tmp_path), "-k", "no-such-scenario")
    assert "unrecognized arguments" not in result.stderr, result.stderr
    assert result.returncode == 5 and "No scenario was selected" in result.stderr
    # Options between paths, and `--`: what follows goes to pytest unchanged (here: only collect).
    result = cli("run", "--target", "embedded", first, "--reports", str(tmp_path), second, "--idp", "okta,rfc",
                 "--", "--collect-only", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{first}::okta-push-new-user[okta]" in result.stdout
    assert f"{second}::rfc-users-create[rfc]" in result.stdout
    # An option run does not have is still refused, wherever it stands.
    result = cli("run", "--target", "embedded", first, "--htlm")
    assert result.returncode == 2 and "unrecognized arguments: --htlm" in result.stderr
