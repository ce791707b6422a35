"""No secret leaves the process: every byte a run writes is scanned for the token and a password.

The run sets a distinctive bearer token and sends a distinctive password in user bodies (on
create, in Okta's path-less PATCH and in a PATCH by path), with a passing scenario and a failing
one (failure reports and curl lines carry the request), with transport logging on. The console,
the Allure results with their attachments, the JUnit XML and the log file must contain neither.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from conformance.engine.embedded import EmbeddedServer
from tests.support.runs import DISTINCTIVE_TOKEN, REPO, everything_written, run_scenarios

PASSWORD = "Pw-9f8e7d6c-Distinctive!"

SCENARIO = textwrap.dedent("""\
    id: secret-carrier-{kind}
    title: a user whose password is distinctive ({kind})
    idps: [okta]
    vars:
      user: ${{fake.user()}}
      password: "{password}"
    steps:
      - name: create with a password
        request:
          idp: create_user
          body:
            schemas: [urn:ietf:params:scim:schemas:core:2.0:User]
            userName: ${{user.userName}}
            password: ${{password}}
            active: true
        expect: {{status: 201}}
        capture: {{user_id: body.id}}
      - name: change it with Okta's path-less PATCH
        request: {{idp: set_password}}
        expect: {{status: [200, 204]}}
      - name: change it by path
        request:
          method: PATCH
          path: /Users/${{user_id}}
          body:
            schemas: [urn:ietf:params:scim:api:messages:2.0:PatchOp]
            Operations: [{{op: replace, path: password, value: "${{password}}"}}]
        expect: {{status: {last_status}}}
""")


def test_neither_the_token_nor_a_password_appears_in_anything_the_run_writes(
    scim_server: EmbeddedServer, tmp_path: Path
):
    folder = tmp_path / "scenarios" / "secrets"
    folder.mkdir(parents=True)
    (tmp_path / "scenarios" / "shared").symlink_to(REPO / "scenarios" / "shared")
    for kind, last_status in (("passing", 204), ("failing", 418)):
        text = SCENARIO.format(kind=kind, password=PASSWORD, last_status=last_status)
        (folder / f"{kind}.scenario.yaml").write_text(text, encoding="utf-8")
    reports = tmp_path / "reports"
    log = reports / "run.log"
    result = run_scenarios(
        scim_server.base_url, reports, "--log-file", str(log), "--log-file-level", "DEBUG",
        "--log-level", "DEBUG", "-o", "log_cli=true", paths=(str(folder),),
    )
    assert result.code == 1, result.output
    assert "1 passed" in result.output and "1 failed" in result.output
    # The failing item wrote its full report: request bodies and a curl line.
    assert "expected status 418, got 204" in result.output
    assert "Reproduce with:" in result.output and "[REDACTED]" in result.output
    assert log.is_file() and "PATCH" in log.read_text()
    written = everything_written(reports)
    assert "[REDACTED]" in written
    for secret in (DISTINCTIVE_TOKEN, PASSWORD):
        assert secret not in result.output
        assert secret not in written
