"""`scim-conformance show`: a scenario printed as one IdP would send it, and clear errors otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.commands.cli import main

REPO = Path(__file__).resolve().parents[2]
PROFILES = str(REPO / "profiles")
UPDATE_USER = str(REPO / "scenarios" / "entra" / "update-user.scenario.yaml")


def show(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["show", *args, "--profiles", PROFILES])
    out, err = capsys.readouterr()
    return code, out, err


def step_text(output: str, number: int) -> str:
    """The lines of step `number` (from its heading to the next step's)."""
    start = output.index(f"\n{number}. ")
    end = output.find(f"\n{number + 1}. ", start + 1)
    return output[start:end if end >= 0 else None]


def test_entra_update_user_shows_one_capitalised_replace_per_attribute(capsys):
    code, out, err = show(capsys, UPDATE_USER, "--idp", "entra")
    assert code == 0, err
    patch = step_text(out, 3)
    assert "PATCH /Users/<user_id>" in patch
    assert "Authorization: Bearer $SCIM_TOKEN" in patch and "Content-Type: application/scim+json" in patch
    assert '"urn:ietf:params:scim:api:messages:2.0:PatchOp"' in patch
    for path in ("displayName", 'emails[type eq \\"work\\"].value', "name.givenName", "name.familyName",
                 "externalId", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
                 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"):
        assert f'"op": "Replace",\n         "path": "{path}"' in patch, path
    assert patch.count('"op": "Replace"') == 7
    assert "expect: status 200 or 204" in patch


def test_entra_compliant_update_user_shows_the_path_less_replace_with_dotted_keys(capsys):
    code, out, _ = show(capsys, UPDATE_USER, "--idp", "entra-compliant")
    assert code == 0
    patch = step_text(out, 3)
    assert patch.count('"op": "replace"') == 2 and '"op": "Replace"' not in patch
    assert '"path": "emails[type eq \\"work\\"].value"' in patch
    assert '"name.givenName": ' in patch and '"name.familyName": ' in patch
    assert '"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": ' in patch


def test_shared_steps_are_expanded_and_captured_ids_are_placeholders(capsys):
    code, out, _ = show(capsys, UPDATE_USER)  # no --idp: the scenario's first, entra
    assert code == 0
    assert "As Microsoft Entra ID (entra)" in out
    lookup, create = step_text(out, 1), step_text(out, 2)
    assert "[from entra-provision-user]" in lookup and '   GET /Users?filter=userName eq "scimc-sample-' in lookup
    assert "   POST /Users\n" in create and '"userName": "scimc-sample-' in create
    assert "keeps: user_id ← body.id" in create
    assert "GET /Users/<user_id>" in step_text(out, 4)


def test_a_step_description_is_printed_under_its_name(capsys):
    _, out, _ = show(capsys, UPDATE_USER, "--idp", "entra")
    step = step_text(out, 4)
    assert step.startswith("\n4. displayName, name.givenName, name.familyName and externalId read back changed\n")
    assert "aadOptscim062020" in step


def test_generated_passwords_and_written_credentials_are_never_shown(capsys):
    code, out, _ = show(capsys, str(REPO / "scenarios" / "okta" / "password-sync.scenario.yaml"), "--idp", "okta-aiw")
    assert code == 0
    assert '"password": "[REDACTED]"' in out
    code, out, _ = show(capsys, str(REPO / "scenarios" / "troubleshooting" / "token-malformed.scenario.yaml"))
    assert code == 0
    assert "Authorization: Basic [REDACTED]" in out and "c2NpbWM6c2NpbWM=" not in out


def test_an_unknown_idp_is_a_usage_error_that_lists_the_known_ones(capsys):
    code, out, err = show(capsys, UPDATE_USER, "--idp", "nosuch")
    assert (code, out) == (2, "")
    assert err.startswith("error: unknown IdP profile 'nosuch' (known: entra, entra-compliant, ")
    code, _, err = show(capsys, UPDATE_USER, "--idp", "okta")
    assert code == 2
    assert err == "error: scenario 'entra-update-user' is not replayed as 'okta' (its idps: entra, entra-compliant)\n"


def test_a_missing_file_or_one_that_is_not_a_scenario_is_a_usage_error(capsys, tmp_path):
    code, _, err = show(capsys, str(tmp_path / "nope.scenario.yaml"))
    assert code == 2 and err.endswith("nope.scenario.yaml: no such file\n")
    code, _, err = show(capsys, str(REPO / "README.md"))
    assert code == 2 and "not a scenario" in err and "Traceback" not in err


def test_a_broken_scenario_prints_its_problems_as_lint_does(capsys, tmp_path):
    broken = tmp_path / "broken.scenario.yaml"
    broken.write_text("id: broken\ntitle: t\nidps: [entra]\nsteps:\n  - name: a\n    request: {idp: get_user}\n")
    code, out, err = show(capsys, str(broken))
    assert code == 1 and "Traceback" not in out + err
    assert out.startswith(f"{broken}:6: request template 'get_user' of IdP profile 'entra'")
    assert "needs 'user_id'" in out
