"""A run against a target that echoes every secret in every form leaves none of them anywhere.

The target (`echo_target`) echoes the bearer token, the password and the `sig` value of the base
URL, and a custom credential header the scenario sends, as JSON keys and values, JSON-escaped,
percent-encoded, base64 (also inside a Basic credential) and HTML-escaped, in headers, in the reason
phrase and in the body of a 204; and it writes escape sequences and NUL bytes. `scim-conformance run`
runs a passing and two failing scenarios against it with transport logging on the console. The
console, every file under the reports folder (Allure results and attachments, junit.xml,
matrix.md, matrix.json, badges) and the certificate built from the results hold no form of any
secret and no raw control character.

A token under 8 characters, a non-ASCII token and a short `sig` in the base URL are refused with a
clear error before any request is sent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conformance.reporting.certificate import build_certificate, to_markdown
from tests.hostile.servers import HostileServer
from tests.secrets.echo_target import RAW_CONTROLS, echo, echo_forms
from tests.support.runs import REPO, everything_written

TOKEN = 'tok-"Zq8\\wX3<&>vN5+/kP2~mR7'  # changes under JSON, percent, HTML and base64 (+ and /) encoding
URL_PASSWORD = "Url-Pw-7Hq2Lm9Xr4"
SIGNATURE = "Sig-Vb3Nc8Kd1Fs6"
CUSTOM = "Custom-Auth-Jt5Wy2Pe7Qa"
SECRETS = [TOKEN, URL_PASSWORD, SIGNATURE, CUSTOM]

SCENARIO = textwrap.dedent("""\
    id: echoing-target-{kind}
    title: a target that echoes every secret ({kind})
    idps: [okta]
    steps:
      - name: list users, with a custom credential header
        request:
          method: GET
          path: /Users
          query: {{filter: 'userName eq "x"'}}
          headers: {{X-Custom-Auth: "{custom}"}}
        expect: {{status: {list_status}}}
      - name: a plain text page
        request: {{method: GET, path: /Users/plain}}
        expect: {{status: {plain_status}}}
      - name: delete, answered 204 with a body
        request: {{method: DELETE, path: /Users/echo}}
        expect: {{status: 204}}
""")


def cli(*args: str, token: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SCIM_TOKEN", "SCIM_CONFORMANCE_RUN_ID") and not k.startswith("PYTEST_XDIST_")}
    env["SCIM_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "conformance", *args], cwd=REPO, env=env, capture_output=True,
                          timeout=timeout, check=False, encoding="utf-8", errors="surrogateescape")


def leaks(text: str) -> list[str]:
    """Each form of each secret found in `text` (a base64 form by its middle: its ends may remain)."""
    found = []
    for secret in SECRETS:
        for name, form in echo_forms(secret).items():
            needle = form[14:-3] if name == "basic" else form[2:-3] if name.startswith("base64") else form
            if needle in text:
                found.append(f"{name} of {secret!r}")
    return found


def raw_controls(text: str) -> list[str]:
    return [repr(c) for c in RAW_CONTROLS if c in text]


@pytest.fixture
def echoing() -> HostileServer:
    with HostileServer(echo(SECRETS)) as server:
        yield server


def base_url(server: HostileServer, signature: str = SIGNATURE) -> str:
    return f"http://scim-user:{URL_PASSWORD}@127.0.0.1:{server.port}/v2?sig={signature}"


def test_no_form_of_any_secret_and_no_control_character_leaves_the_run(echoing: HostileServer, tmp_path: Path):
    folder = tmp_path / "scenarios" / "echo"
    folder.mkdir(parents=True)
    (tmp_path / "scenarios" / "shared").symlink_to(REPO / "scenarios" / "shared")
    for kind, list_status, plain_status in (("passing", 200, 200), ("failing-json", 418, 200),
                                            ("failing-text", 200, 418)):
        (folder / f"{kind}.scenario.yaml").write_text(SCENARIO.format(
            kind=kind, custom=CUSTOM, list_status=list_status, plain_status=plain_status), encoding="utf-8")
    reports = tmp_path / "reports"
    run = cli("run", "--target", base_url(echoing), "--reports", str(reports), "-v", str(folder),
              "--", "-o", "log_cli=true", "--log-cli-level", "INFO", "-rfE", token=TOKEN)
    console = run.stdout + run.stderr
    assert run.returncode == 1, console[-3000:]
    assert "1 passed" in console and "2 failed" in console, console[-3000:]
    # The deviation is on: the target really answered with every form, and the checks find them there.
    assert len(echoing.requests) == 3 + 1 + 2 + 1  # the three scenarios' steps, /ServiceProviderConfig
    assert len(leaks(echo_forms_text())) == 4 * len(echo_forms(TOKEN))
    # What the run showed and wrote: masks and escapes, no secret, no raw control character.
    certificate = build_certificate(reports / "allure-results", ("sha256:test", 0), ["okta"])
    written = everything_written(reports) + to_markdown(certificate) + str(certificate)
    assert all((reports / name).is_file() for name in ("matrix.md", "matrix.json", "junit.xml"))
    assert "[REDACTED]" in console and "[REDACTED]" in written
    assert "\\x1b]52;c;" in console and "\\x1b]52;c;" in written  # the attack arrived, shown as text
    assert f"127.0.0.1:{echoing.port}" in console  # the header line names the target, without its credentials
    assert leaks(console) == [] and leaks(written) == []
    assert raw_controls(console) == [] and raw_controls(written) == []


def echo_forms_text() -> str:
    return " ".join(form for secret in SECRETS for form in echo_forms(secret).values())


@pytest.mark.parametrize(("token", "signature", "message"), [
    ("Q7z", SIGNATURE, "the token in $SCIM_TOKEN is 3 character(s) long: scim-conformance refuses credentials "
                       "under 8 characters"),
    ("tök-Zq8wX3vN5", SIGNATURE, "the token in $SCIM_TOKEN holds a non-ASCII character (at position 2)"),
    (TOKEN, "s1g", "the base URL's query parameter 'sig' is 3 character(s) long"),
])
def test_an_unusable_credential_is_refused_before_anything_is_sent(echoing: HostileServer, tmp_path: Path,
                                                                    token: str, signature: str, message: str):
    run = cli("run", "--target", base_url(echoing, signature), "--reports", str(tmp_path / "reports"),
              str(REPO / "scenarios" / "rfc"), token=token, timeout=120)
    console = run.stdout + run.stderr
    assert run.returncode not in (0, 1), console[-2000:]
    assert message in console, console[-2000:]
    assert "Traceback" not in console
    assert token not in console and signature not in console and URL_PASSWORD not in console
    assert echoing.requests == []
