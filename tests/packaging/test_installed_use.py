"""Using the tool without the repository: the wheel, `init` for a team's suite, `doctor`, certificates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from conformance.engine.embedded import EmbeddedServer
from tests.support.runs import DISTINCTIVE_TOKEN, REPO, embedded_target


def _cli(*args: str, cwd: Path, token: str | None = DISTINCTIVE_TOKEN, executable: str = sys.executable,
         timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SCIM_TOKEN", "SCIM_CONFORMANCE_RUN_ID")}
    if token is not None:
        env["SCIM_TOKEN"] = token
    return subprocess.run([executable, "-m", "conformance", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv outside the repository with the built wheel (and scim2-server) installed."""
    root = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(root / "dist"), str(REPO)],
                           capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    [wheel] = (root / "dist").glob("scim_conformance-*.whl")
    venv.create(root / "venv", with_pip=True)
    python = root / "venv" / "bin" / "python"
    pip = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel), "scim2-server==0.8.3"],
                         capture_output=True, text=True, timeout=600, check=False)
    assert pip.returncode == 0, pip.stderr[-2000:]
    return python


def test_the_wheel_carries_the_scenarios_and_runs_them_from_anywhere(
    installed: Path, scim_server: EmbeddedServer, tmp_path: Path
):
    shipped = subprocess.run([str(installed), "-c", "from conformance.engine.paths import shipped_dir; "
                              "print(shipped_dir('scenarios')); print(shipped_dir('profiles'))"],
                             cwd=tmp_path, capture_output=True, text=True, check=True).stdout.split()
    assert all("site-packages/conformance/shipped" in folder for folder in shipped), shipped
    run = _cli("run", "--target", scim_server.base_url, "--idp", "okta", "--fail-on", "must",
               cwd=tmp_path, executable=str(installed))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    # A bare URL carries no known deviations: scim2-server fails one should scenario, no must.
    assert "okta               certified for the target's declared capabilities; should failed: " \
           "okta-put-keeps-active" in run.stdout
    assert (tmp_path / "reports" / "junit.xml").is_file() and (tmp_path / "reports" / "matrix.md").is_file()
    env = {**os.environ, "SCIM_TOKEN": DISTINCTIVE_TOKEN}
    pyargs = subprocess.run(
        [str(installed), "-m", "pytest", "--pyargs", "conformance.shipped.scenarios", "--scim-target",
         scim_server.base_url, "--idp", "okta", "-k", "push-new-user or test-credentials", "-q",
         "-p", "no:cacheprovider"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert pyargs.returncode == 0, pyargs.stdout[-3000:]
    assert "2 passed" in pyargs.stdout


def test_init_scaffolds_a_suite_that_runs_with_ours_and_overrides_by_id(scim_server: EmbeddedServer, tmp_path: Path):
    made = _cli("init", ".", "--name", "my-server", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    profile = tmp_path / "profiles" / "targets" / "my-server.yaml"
    assert profile.is_file() and (tmp_path / ".github" / "workflows" / "scim-conformance.yml").is_file()
    profile.write_text(profile.read_text().replace("http://127.0.0.1:8080/scim/v2", scim_server.base_url))
    # The team replaces one of ours by giving its scenario the same id.
    ours = (REPO / "scenarios" / "okta" / "test-credentials.scenario.yaml").read_text()
    (tmp_path / "scenarios" / "my-team" / "credentials.scenario.yaml").write_text(
        ours.replace("title: Okta tests the API credentials", "title: Our own credentials test"))
    again = _cli("init", ".", "--name", "my-server", cwd=tmp_path)
    assert "kept    " in again.stdout  # nothing is overwritten

    run = _cli("run", "--target", "my-server", "--idp", "okta", "--fail-on", "must", "-v", cwd=tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "scenarios/my-team/example.scenario.yaml::my-team-create-and-read[okta] PASSED" in output
    assert "scenarios/my-team/credentials.scenario.yaml::okta-test-credentials[okta] PASSED" in output
    assert "okta/test-credentials.scenario.yaml::okta-test-credentials[okta]" not in output  # replaced
    assert "okta-push-new-user[okta] PASSED" in output  # ours ran too
    lint = _cli("lint", "scenarios", cwd=tmp_path)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_doctor_tells_a_down_a_wrong_token_and_a_healthy_target_apart(scim_server: EmbeddedServer, tmp_path: Path):
    down = _cli("doctor", "--target", "http://127.0.0.1:9/scim/v2", cwd=tmp_path)
    assert down.returncode == 1
    assert "FAIL reachable" in down.stdout and "Connection refused" in down.stdout
    wrong = _cli("doctor", "--target", scim_server.base_url, cwd=tmp_path, token="not-the-token-12345")
    assert wrong.returncode == 1
    assert "FAIL auth" in wrong.stdout and "the token is wrong, expired or lacks the scope" in wrong.stdout
    healthy = _cli("doctor", "--target", scim_server.base_url, cwd=tmp_path)
    assert healthy.returncode == 0, healthy.stdout
    assert "ok   auth enforced  without a token /Users answers 401" in healthy.stdout
    assert "/ServiceProviderConfig advertises patch=yes" in healthy.stdout
    assert "should declare capabilities" in healthy.stdout  # a bare URL does not declare etag, sort, ...
    wrong_path = _cli("doctor", "--target", scim_server.base_url + "/nope", cwd=tmp_path)
    assert wrong_path.returncode == 1 and "the base URL looks wrong" in wrong_path.stdout
    for result in (down, wrong, healthy, wrong_path):
        assert DISTINCTIVE_TOKEN not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_a_certificate_verifies_and_an_edited_one_does_not(scim_server: EmbeddedServer, tmp_path: Path):
    target = embedded_target(scim_server.base_url, tmp_path / "profile")
    made = _cli("certify", "--target", target, "--idp", "okta", "--reports", str(tmp_path / "reports"),
                "--out", str(tmp_path / "cert.json"), cwd=REPO)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-2000:]
    certificate = json.loads((tmp_path / "cert.json").read_text())
    [okta] = certificate["results"]
    assert okta["idp"] == "okta" and okta["level"] == "certified for the target's declared capabilities"
    assert certificate["target"]["serviceProviderConfig"]["patch.supported"] == "true"
    assert (tmp_path / "cert.md").is_file()
    verified = _cli("verify", str(tmp_path / "cert.json"), cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout
    assert "verifies: made by scim-conformance" in verified.stdout

    okta["scenarios"]["okta-put-keeps-active"] = "pass"  # someone improves the result by hand
    (tmp_path / "edited.json").write_text(json.dumps(certificate))
    edited = _cli("verify", str(tmp_path / "edited.json"), cwd=tmp_path)
    assert edited.returncode == 1
    assert "the certificate was changed after it was written" in edited.stdout
    certificate = json.loads((tmp_path / "cert.json").read_text())
    certificate["scenarioSet"]["digest"] = "sha256:" + "0" * 64
    (tmp_path / "other-set.json").write_text(json.dumps(certificate))
    other = _cli("verify", str(tmp_path / "other-set.json"), cwd=tmp_path)
    assert other.returncode == 1 and "it was made with another scenario set" in other.stdout


def test_the_github_action_runs_the_suite_with_its_own_command_line(scim_server: EmbeddedServer, tmp_path: Path):
    import re

    import yaml

    action = yaml.safe_load((REPO / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    step = next(s for s in action["runs"]["steps"] if s.get("name") == "run the scenarios")
    inputs = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    inputs.update(target=scim_server.base_url, idp="okta", html="false", args="-k push-new-user")
    script = re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: inputs[m.group(1)], step["run"])
    env = {**os.environ, "SCIM_TOKEN": DISTINCTIVE_TOKEN,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "okta               certified" in done.stdout
    assert (tmp_path / "reports" / "matrix.md").is_file()
