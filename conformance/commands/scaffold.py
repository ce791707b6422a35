"""`scim-conformance init [DIR]`: a team's own suite beside the shipped one.

It writes a target profile for the team's server (with every capability spelled out), an example
scenario that reuses the shipped shared steps and IdP profiles, a pytest.ini, and a GitHub
Actions job. Their scenarios and ours run together (`scim-conformance run` with no path runs
both); a scenario of theirs with the id of one of ours replaces ours. Existing files are never
overwritten.
"""

from __future__ import annotations

from pathlib import Path

from conformance.engine.profiles import CAPABILITIES, DEFAULT_CAPABILITIES

__all__ = ["FILES", "scaffold"]

_CAPABILITY_NOTES = {
    "users": "/Users exists",
    "groups": "/Groups exists (false: group scenarios are skipped)",
    "patch": "PATCH is supported",
    "etag": "ETags and If-Match",
    "sort": "sortBy/sortOrder",
    "bulk": "/Bulk",
    "filter": "filter= on /Users and /Groups",
    "delete_users": "DELETE /Users/{id} (false: users are deactivated, as Grafana does)",
    "delete_groups": "DELETE /Groups/{id}",
    "enterprise_user": "the enterprise extension",
    "links_by_email": "a POST with a known email links to that account",
    "change_password": "passwords can be set",
    "unique_emails": "a second account with a known email is refused with 409",
    "unique_external_id": "a second resource with a known externalId is refused with 409",
}


def _target_profile(name: str) -> str:
    lines = [
        f"# The SCIM server your team runs. `scim-conformance run --target {name}` uses this file.",
        "# Every key is described in scim-conformance's docs/scenario-format.md (Target profile).",
        f"id: {name}",
        f"name: {name}",
        "base_url: http://127.0.0.1:8080/scim/v2     # with its base path",
        "auth:",
        "  type: bearer",
        "  token_env: SCIM_TOKEN                   # the token is read from this variable, never from a file",
        "tls: {verify: true}",
        "timeouts: {connect: 5, read: 30}",
        "# What the server can do: scenarios that need a capability it lacks are skipped with the",
        "# reason; `scim-conformance doctor --target ...` suggests values from what it advertises.",
        "capabilities:",
    ]
    for capability in CAPABILITIES:
        enabled = "true" if capability in DEFAULT_CAPABILITIES else "false"
        lines.append(f"  {capability + ':':<20} {enabled:<5}  # {_CAPABILITY_NOTES.get(capability, '')}".rstrip())
    lines += [
        "# Known deviations of your server, reported as XFAIL with the reason until fixed:",
        "expected_failures: {}",
        "#  okta-put-keeps-active: \"our PUT clears omitted attributes (ticket ABC-123)\"",
    ]
    return "\n".join(lines) + "\n"


_EXAMPLE = """\
# An example of your own scenario: it reuses the shipped shared steps (lookup-user-absent,
# create-user, get-user) and the shipped IdP profiles. Give it the id of a shipped scenario to
# replace that one. Format: docs/scenario-format.md; check it with `scim-conformance lint`.
id: {team}-create-and-read
title: Our server creates a user the way Okta and Entra do, and returns it by id
idps: [okta, entra]
tags: [users, create]
requires: [users]
level: must
refs: ["RFC 7644 §3.3"]
vars:
  user: ${{fake.user()}}
steps:
  - use: lookup-user-absent
  - use: create-user                 # captures user_id
  - use: get-user
  - name: our server keeps the display name it was given
    request: {{idp: get_user}}
    expect:
      status: 200
      json: {{displayName: "${{user.displayName}}"}}
"""

_PYTEST_INI = """\
# `pytest --scim-target {name}` runs your scenarios; `scim-conformance run --target {name}`
# runs yours and the shipped ones together (yours replace ours when the ids are the same).
[pytest]
testpaths = scenarios
addopts = -p no:cacheprovider
"""

_WORKFLOW = """\
# Runs your scenarios and the shipped Okta/Entra suites against your server on every push.
# Start your server in the first step; keep the token in a repository secret (SCIM_TOKEN).
name: scim-conformance
on: [push, pull_request]
jobs:
  conformance:
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {{python-version: "3.11"}}
      - name: start the SCIM server
        run: echo "start your server here, listening at the base_url of profiles/targets/{name}.yaml"
      - run: pip install scim-conformance
      - name: run the suites (fails on must failures only)
        env: {{SCIM_TOKEN: "${{{{ secrets.SCIM_TOKEN }}}}"}}
        run: scim-conformance run --target {name} --fail-on must
      - if: always()
        uses: actions/upload-artifact@v4
        with: {{name: scim-conformance-report, path: reports/}}
"""

FILES = ("profiles/targets/{name}.yaml", "scenarios/{team}/example.scenario.yaml", "pytest.ini",
         ".github/workflows/scim-conformance.yml")


def scaffold(directory: Path, name: str = "my-server", team: str = "my-team") -> list[tuple[Path, bool]]:
    """Write the files into `directory`; (path, written) for each, False when it already existed."""
    contents = {
        f"profiles/targets/{name}.yaml": _target_profile(name),
        f"scenarios/{team}/example.scenario.yaml": _EXAMPLE.format(team=team),
        "pytest.ini": _PYTEST_INI.format(name=name),
        ".github/workflows/scim-conformance.yml": _WORKFLOW.format(name=name),
    }
    done: list[tuple[Path, bool]] = []
    for relative, text in contents.items():
        path = directory / relative
        if path.exists():
            done.append((path, False))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        done.append((path, True))
    return done
