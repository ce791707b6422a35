"""Every broken file in the corpus gives `path:line: message`, exit 1, and never a traceback.

The corpus (tests/badfiles/corpus/) holds one broken file per mistake people make, grouped by
kind: scenarios/ (with a valid shared/ folder next to them), duplicate-id/ (two files, one id),
steps/<case>/ (shared-step folders), targets/ (target profiles) and idp-<case>/idp/ (IdP
profile folders). Files too big or too odd to commit (10 MB) are generated into tmp_path.

`CASES` is the table: case -> files to lint, the file and line the problem must name, and a
fragment of the message. A few cases also go through pytest collection against a server that
records requests, to prove a broken file stops the run before anything is sent.
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.hostile.servers import HostileServer, answer
from tests.support.runs import DISTINCTIVE_TOKEN, REPO, run_scenarios

CORPUS = Path(__file__).resolve().parent / "corpus"
RELATIVE = CORPUS.relative_to(REPO)  # lint is run from the repository, with paths as a user types them
LINT_TIMEOUT_S = 20
MEMORY_LIMIT = 1 << 29  # 512 MiB for a lint child: an alias bomb must not take the machine down
WRITTEN_TOKEN = "tok-written-in-a-file-9f8e7d6c5b4a"  # the token in targets/token-in-file.yaml


@dataclass(frozen=True)
class Bad:
    """A broken file and what lint must say about it."""

    lint: tuple[str, ...]  # paths under the corpus to pass to `scim-conformance lint`
    line: int | None  # the line the problem names (None: any line, for problems without a clear one)
    fragment: str
    where: str | None = None  # the file the problem names, if not the first one linted
    profiles: str | None = None  # --profiles, under the corpus

    @property
    def reported_file(self) -> str:
        return self.where or self.lint[0]


S = "scenarios/"
CASES = {
    # --- YAML itself -------------------------------------------------------------------------------
    "yaml-syntax": Bad((S + "yaml-syntax.scenario.yaml",), 8, "invalid YAML: while parsing a flow mapping"),
    "tabs": Bad((S + "tabs.scenario.yaml",), 6, "found character '\\t' that cannot start any token"),
    "duplicate-key": Bad((S + "duplicate-key.scenario.yaml",), 9, "duplicate key 'status'"),
    "empty": Bad((S + "empty.scenario.yaml",), 1, "file is empty"),
    "only-comments": Bad((S + "only-comments.scenario.yaml",), 1, "file is empty"),
    "top-level-list": Bad((S + "top-level-list.scenario.yaml",), 1, "is not of type 'object'"),
    "top-level-string": Bad((S + "top-level-string.scenario.yaml",), 1,
                            "'just a sentence, not a scenario' is not of type 'object'"),
    "wrong-extension": Bad((S + "wrong-extension.scenario.yml",), 1,
                           "a scenario file must end in .scenario.yaml: files ending in .yml are never loaded"),
    # --- schema: wrong types, unknown keys ------------------------------------------------------------
    "idps-not-a-list": Bad((S + "idps-not-a-list.scenario.yaml",), 3, "idps: 'okta' is not of type 'array'"),
    "status-wrong-type": Bad((S + "status-wrong-type.scenario.yaml",), 8, "check 'status': 'two hundred'"),
    "unknown-top-key": Bad((S + "unknown-top-key.scenario.yaml",), 4, "unknown key 'stpes' (allowed: "),
    "unknown-step-key": Bad((S + "unknown-step-key.scenario.yaml",), 7, "unknown key 'expects' (allowed: "),
    "use-with-extra-key": Bad((S + "use-with-extra-key.scenario.yaml",), 8, "unknown key 'name' (allowed: use, with)"),
    "missing-request": Bad((S + "missing-request.scenario.yaml",), 5, "steps/0: 'request' is a required property"),
    "bad-method": Bad((S + "bad-method.scenario.yaml",), 6, "'FETCH' is not one of ['GET', 'POST'"),
    "null-steps": Bad((S + "null-steps.scenario.yaml",), 4, "steps: None is not of type 'array'"),
    "bad-id": Bad((S + "bad-id.scenario.yaml",), 1, "id: 'Okta_Push' does not match"),
    "unknown-capability": Bad((S + "unknown-capability.scenario.yaml",), 4, "unknown capability 'scim2'"),
    # --- static checks -----------------------------------------------------------------------------
    "misspelt-check": Bad((S + "misspelt-check.scenario.yaml",), 9, "unknown check 'jsn' (known: "),
    "undefined-variable": Bad((S + "undefined-variable.scenario.yaml",), 8,
                              "request: template references undefined name 'usr_id'"),
    "unclosed-template": Bad((S + "unclosed-template.scenario.yaml",), 11, "unclosed '${'"),
    "unknown-function": Bad((S + "unknown-function.scenario.yaml",), 6, "vars.id: unknown function fake.uuid()"),
    # Built-ins read as what they are not: each rendered a Python object at run time (a traceback).
    "fake-alone": Bad((S + "fake-alone.scenario.yaml",), 9,
                      "request: ${fake}: fake is not a value, it is only called: fake.group() or fake.user()"),
    "fake-attribute": Bad((S + "fake-attribute.scenario.yaml",), 5,
                          "vars.external_id: ${fake.uuid}: fake is not a value, it is only called"),
    "run-id-method": Bad((S + "run-id-method.scenario.yaml",), 9, "request: ${run_id.upper}: run_id has no 'upper' "
                                                                  "(it is text)"),
    "builtin-redefined": Bad((S + "builtin-redefined.scenario.yaml",), 9,
                             "vars.target: 'target' is a built-in name (one of fake, idp, run_id, target)"),
    "bad-capture": Bad((S + "bad-capture.scenario.yaml",), 8, "capture 'user_id': 'response.id' must start with"),
    "unknown-reference": Bad((S + "unknown-reference.scenario.yaml",), 8,
                             "unknown reference id 'Q19' (see docs/references.md)"),
    "unknown-scenario-reference": Bad((S + "unknown-scenario-reference.scenario.yaml",), 4,
                                      "unknown reference id 'OKTA-20' (see docs/references.md)"),
    "unknown-idp": Bad((S + "unknown-idp.scenario.yaml",), 5, "unknown IdP profile 'nosuch-idp'"),
    "reserved-tag": Bad((S + "reserved-tag.scenario.yaml",), 4, "tag 'skip' is reserved"),
    "unknown-use": Bad((S + "unknown-use.scenario.yaml",), 7,
                       "unknown shared sequence 'create-usr' (known: "),
    "use-missing-param": Bad((S + "use-missing-param.scenario.yaml",), 7, "shared sequence 'create-user' needs 'user'"),
    "long-step-name": Bad((S + "long-step-name.scenario.yaml",), 5,
                          "step name is 103 characters long (at most 80): keep it short and put the rest in "
                          "`description:`"),
    "duplicate-scenario-id": Bad(("duplicate-id",), 2, "scenario id 'same-id' is already used by "
                                 f"{RELATIVE}/duplicate-id/first.scenario.yaml",
                                 where="duplicate-id/second.scenario.yaml"),
    # --- shared steps ------------------------------------------------------------------------------
    "circular-use": Bad(("steps/circular/loop.steps.yaml",), 5, "unknown key 'use'"),
    "duplicate-sequence": Bad(("steps/duplicate-sequence/a.steps.yaml",), 3,
                              "sequence 'get-user' is also defined in ", where="steps/duplicate-sequence/b.steps.yaml"),
    "empty-sequence": Bad(("steps/missing-steps/empty-sequence.steps.yaml",), 4, "[] should be non-empty"),
    "undeclared-capture": Bad(("steps/undeclared-capture/groups.steps.yaml",), 9,
                              "sequence 'make-group' captures 'group_id' but does not declare it"),
    # --- target profiles ---------------------------------------------------------------------------
    "token-in-profile": Bad(("targets/token-in-file.yaml",), 6, "tokens are never stored in files"),
    "profile-unknown-key": Bad(("targets/unknown-key.yaml",), 3, "unknown key 'verify_tls' (allowed: "),
    "profile-no-base-url": Bad(("targets/no-base-url.yaml",), 1, "a target needs base_url (or embedded: true)"),
    "profile-url-without-scheme": Bad(("targets/url-without-scheme.yaml",), 2, "does not match '^https?://'"),
    "profile-zero-timeout": Bad(("targets/zero-timeout.yaml",), 5, "timeouts/read: 0 is less than or equal to"),
    "profile-timeout-with-unit": Bad(("targets/timeout-with-unit.yaml",), 3, "'30s' is not of type 'number'"),
    "profile-unknown-capability": Bad(("targets/unknown-capability.yaml",), 3, "'etags' is not one of"),
    "profile-token-env-with-dollar": Bad(("targets/token-env-with-dollar.yaml",), 3, "'$SCIM_TOKEN' does not match"),
    # Profiles that passed the schema and then stopped a run with a traceback (scenario/target_checks.py).
    "profile-unparseable-url": Bad(("targets/unparseable-url.yaml",), 3,
                                   "base_url: 'http://[::1/scim/v2' is not a URL (Invalid IPv6 URL)"),
    "profile-infinite-timeout": Bad(("targets/inf-timeout.yaml",), 5, "timeouts.read: inf is not a number of seconds "
                                                                      "above 0 and at most 86400"),
    "profile-nan-timeout": Bad(("targets/nan-timeout.yaml",), 6, "timeouts.read: nan is not a number of seconds"),
    "profile-negative-timeout": Bad(("targets/negative-timeout.yaml",), 5,
                                    "timeouts/connect: -1 is less than or equal"),
    "profile-ca-bundle-not-pem": Bad(("targets/ca-bundle-not-pem.yaml",), 5,
                                     "ca-bundle-not-pem.yaml is not a PEM file of CA certificates"),
    "profile-ca-bundle-missing": Bad(("targets/ca-bundle-missing.yaml",), 6,
                                     "tls.ca_bundle: /nonexistent/corporate-ca.pem does not exist"),
    # --- IdP profiles (a folder each: they are loaded together) --------------------------------------
    "idp-id-mismatch": Bad(("idp-id-mismatch/idp/acme.yaml",), 1, "id 'acme-idp' must match the file name 'acme.yaml'",
                           profiles="idp-id-mismatch"),
    "idp-bad-template": Bad(("idp-bad-template/idp/acme.yaml",), 7, "requests.get_user: unclosed '${'",
                            profiles="idp-bad-template"),
    "idp-unknown-key": Bad(("idp-unknown-key/idp/acme.yaml",), 7, "unknown key 'verb'", profiles="idp-unknown-key"),
    "idp-undeclared-need": Bad(("idp-undeclared-need/idp/acme.yaml",), 9,
                               "requests.get_user: reads 'attribute', which its `needs:` does not declare",
                               profiles="idp-undeclared-need"),
}

# Cases the loader once crashed on or reported without a line (fixed in conformance/engine/scenario/yamlsrc.py).
LOADER_CASES = {
    "binary": Bad((S + "binary.scenario.yaml",), 1, "cannot read file"),
    "non-utf8": Bad((S + "non-utf8.scenario.yaml",), 2, "cannot read file"),
    "nul-byte": Bad((S + "nul-byte.scenario.yaml",), 2, "unacceptable character #x0000"),
    "recursive-alias": Bad((S + "recursive-alias.scenario.yaml",), 6, "recursive"),
    "deep-nesting": Bad((S + "deep-nesting.scenario.yaml",), None, "nested too deep"),
    "billion-laughs": Bad((S + "billion-laughs.scenario.yaml",), None, "alias"),
}

PARAMS = [pytest.param(bad, id=name) for name, bad in {**CASES, **LOADER_CASES}.items()]


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def lint(*args: str, timeout: float = LINT_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """`scim-conformance lint ARGS` from the repository, bounded in time and memory."""
    try:
        return subprocess.run([sys.executable, "-m", "conformance", "lint", *args], cwd=REPO,
                              capture_output=True, text=True, timeout=timeout, check=False,
                              preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        pytest.fail(f"lint {' '.join(args)} did not finish in {timeout} s")


def assert_reported(result: subprocess.CompletedProcess[str], path: str, line: int | None, fragment: str) -> None:
    """Exit 1, a `path:line: message` naming that file, line and fragment, and no traceback."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    assert result.returncode == 1, output[-3000:]
    number = r"\d+" if line is None else str(line)
    shape = re.compile(rf"^{re.escape(path)}:{number}: .*{re.escape(fragment)}", re.MULTILINE)
    assert shape.search(result.stdout), f"no `{path}:{line}: ...{fragment}...` in:\n{result.stdout}"


@pytest.mark.parametrize("bad", PARAMS)
def test_lint_names_the_file_the_line_and_the_mistake(bad: Bad):
    args = [f"{RELATIVE}/{path}" for path in bad.lint]
    if bad.profiles:
        args += ["--profiles", f"{RELATIVE}/{bad.profiles}"]
    result = lint(*args)
    assert_reported(result, f"{RELATIVE}/{bad.reported_file}", bad.line, bad.fragment)
    assert WRITTEN_TOKEN not in result.stdout + result.stderr  # a token in a file is refused, never echoed


def test_the_corpus_has_at_least_25_broken_files_and_the_table_covers_every_one():
    files = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file()}
    broken = files - {"scenarios/shared/valid.steps.yaml", "duplicate-id/first.scenario.yaml"}
    assert len(broken) >= 25
    covered = {bad.reported_file for bad in (*CASES.values(), *LOADER_CASES.values())}
    covered |= {"steps/duplicate-sequence/a.steps.yaml"}  # the other half of the duplicate-sequence case
    assert broken - covered == set(), "corpus files without a row in the table"


def test_the_valid_files_of_the_corpus_are_valid():
    # Otherwise a case could pass because of the support file, not the broken one.
    assert lint(f"{RELATIVE}/scenarios/shared/valid.steps.yaml").returncode == 0
    assert lint(f"{RELATIVE}/duplicate-id/first.scenario.yaml").returncode == 0


def test_lint_of_the_whole_corpus_reports_every_case_and_still_finishes(tmp_path: Path):
    # One run over the whole corpus, bombs included: problems of one file do not hide another's.
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    result = subprocess.run([sys.executable, "-m", "conformance", "lint", "corpus"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False, preexec_fn=_limit_memory)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    for name, bad in {**CASES, **LOADER_CASES}.items():
        if bad.profiles or bad.line is None:
            continue  # IdP profile folders are checked with --profiles, one folder at a time
        where = bad.reported_file
        assert re.search(rf"^corpus/{re.escape(where)}:{bad.line}: ", result.stdout, re.MULTILINE), name


# --- files generated at test time ---------------------------------------------------------------

def test_a_10_mb_file_is_refused_quickly(tmp_path: Path):
    big = tmp_path / "big.scenario.yaml"
    big.write_text("id: big\ntitle: big\nidps: [okta]\ndescription: " + "x" * (10 * 1024 * 1024) + "\n"
                   "steps:\n  - name: look up\n    request: {method: GET, path: /Users}\n")
    result = lint(str(big), timeout=10)
    assert_reported(result, str(big), 1, "larger than")


def test_a_named_file_that_is_not_one_of_ours_is_a_problem_not_silence(tmp_path: Path):
    stray = tmp_path / "push-new-user.yaml"  # a scenario without .scenario in its name
    stray.write_text("id: x\n")
    result = lint(str(stray))
    assert_reported(result, str(stray), 1, "not a file scim-conformance reads")


def test_a_folder_with_other_yaml_in_it_is_linted_without_complaint(tmp_path: Path):
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "ci.yaml").write_text("on: push\n")
    (tmp_path / "ok.scenario.yaml").write_text(
        "id: ok\ntitle: fine\nidps: [okta]\nsteps:\n  - name: look up\n    request: {method: GET, path: /Users}\n")
    result = lint(str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 file(s) checked: no problems" in result.stderr


# --- a broken file stops the run before anything is sent ---------------------------------------

@pytest.mark.parametrize(("files", "where", "line", "fragment"), [
    (("scenarios/yaml-syntax.scenario.yaml",), "yaml-syntax.scenario.yaml", 8, "invalid YAML"),
    (("scenarios/undefined-variable.scenario.yaml",), "undefined-variable.scenario.yaml", 8,
     "template references undefined name 'usr_id'"),
    (("scenarios/misspelt-check.scenario.yaml",), "misspelt-check.scenario.yaml", 9, "unknown check 'jsn'"),
    (("scenarios/fake-alone.scenario.yaml",), "fake-alone.scenario.yaml", 9, "fake is not a value"),
    (("duplicate-id/first.scenario.yaml", "duplicate-id/second.scenario.yaml"), "second.scenario.yaml", 2,
     "scenario id 'same-id' is already used by"),
])
def test_a_run_with_a_broken_scenario_sends_nothing(files: tuple[str, ...], where: str, line: int, fragment: str,
                                                    tmp_path: Path):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    for name in files:
        shutil.copy(CORPUS / name, folder / Path(name).name)
    with HostileServer(answer(200, b'{"totalResults": 0, "Resources": []}')) as recorder:
        result = run_scenarios(f"{recorder.url}/scim/v2", tmp_path / "reports", paths=(str(folder),))
    assert result.code != 0, result.output
    assert f"{folder / where}:{line}: " in result.output and fragment in result.output, result.output
    assert "Traceback" not in result.output
    assert recorder.requests == []  # nothing was sent, not even a first lookup


def test_a_target_profile_with_a_token_in_it_is_refused_before_anything_is_sent(tmp_path: Path):
    with HostileServer(answer(200, b"{}")) as recorder:
        profile = tmp_path / "with-token.yaml"
        text = (CORPUS / "targets/token-in-file.yaml").read_text()
        profile.write_text(text.replace("https://scim.example.com/scim/v2", f"{recorder.url}/scim/v2"))
        folder = tmp_path / "scenarios"
        folder.mkdir()
        shutil.copy(CORPUS / "duplicate-id/first.scenario.yaml", folder)
        result = run_scenarios(str(profile), tmp_path / "reports", paths=(str(folder),))
    assert result.code != 0
    assert f"{profile}:6: tokens are never stored in files" in result.output
    assert WRITTEN_TOKEN not in result.output
    assert DISTINCTIVE_TOKEN not in result.output
    assert "Traceback" not in result.output
    assert recorder.requests == []


@pytest.mark.parametrize(("profile", "line", "fragment"), [
    ("unparseable-url.yaml", 3, "is not a URL (Invalid IPv6 URL)"),
    ("inf-timeout.yaml", 5, "timeouts.read: inf is not a number of seconds"),
    ("nan-timeout.yaml", 6, "timeouts.read: nan is not a number of seconds"),
])
def test_a_run_with_a_profile_lint_refuses_stops_with_one_line_not_a_traceback(profile: str, line: int, fragment: str,
                                                                               tmp_path: Path):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    shutil.copy(CORPUS / "duplicate-id/first.scenario.yaml", folder)
    result = run_scenarios(str(RELATIVE / "targets" / profile), tmp_path / "reports", paths=(str(folder),))
    assert result.code != 0, result.output
    assert f"{RELATIVE / 'targets' / profile}:{line}: " in result.output and fragment in result.output, result.output
    assert "Traceback" not in result.output, result.output


def test_a_run_with_a_ca_bundle_that_is_not_pem_fails_with_one_line_not_a_traceback(tmp_path: Path):
    # The profile still loads (with --insecure, or where its bundle lives, it is usable): the
    # bundle is read when the run opens its https:// client, and that is where it is named.
    folder = tmp_path / "scenarios"
    folder.mkdir()
    shutil.copy(CORPUS / "duplicate-id/first.scenario.yaml", folder)
    result = run_scenarios(str(RELATIVE / "targets/ca-bundle-not-pem.yaml"), tmp_path / "reports", paths=(str(folder),))
    assert result.code != 0, result.output
    assert "Traceback" not in result.output, result.output
    assert (f"tls.ca_bundle: {RELATIVE}/targets/ca-bundle-not-pem.yaml is not a PEM file of CA certificates"
            in result.output), result.output


def test_a_target_url_that_does_not_parse_is_one_line_not_a_traceback():
    done = subprocess.run([sys.executable, "-m", "conformance", "doctor", "--target", "http://[::1/scim/v2"], cwd=REPO,
                          capture_output=True, text=True, timeout=LINT_TIMEOUT_S, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "'http://[::1/scim/v2' is not a URL (Invalid IPv6 URL)" in done.stderr
