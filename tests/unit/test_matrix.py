"""The compatibility matrix and certification, from hand-written Allure result files."""

from __future__ import annotations

import json
from pathlib import Path

from conformance.reporting.allure_meta import categories, environment, ref_links
from conformance.reporting.matrix import Matrix, read_results, validate_matrix, write_matrix


def result(folder: Path, scenario: str, idp: str, status: str, level: str = "must", message: str = "",
           stop: int = 1) -> None:
    labels = [{"name": "scim_scenario", "value": scenario}, {"name": "scim_idp", "value": idp},
              {"name": "scim_level", "value": level}, {"name": "feature", "value": f"title of {scenario}"},
              {"name": "story", "value": idp.title()}, {"name": "parentSuite", "value": idp.split("-")[0]}]
    body = {"name": f"{scenario}[{idp}]", "status": status, "labels": labels, "stop": stop,
            "statusDetails": {"message": message}}
    (folder / f"{scenario}-{idp}-{stop}-result.json").write_text(json.dumps(body))


def test_outcomes_map_allure_statuses_and_a_rerun_replaces_the_earlier_result(tmp_path: Path):
    result(tmp_path, "a", "okta", "passed")
    result(tmp_path, "b", "okta", "failed", stop=1)
    result(tmp_path, "b", "okta", "passed", stop=2)  # a rerun
    result(tmp_path, "c", "okta", "broken")
    result(tmp_path, "d", "okta", "skipped", message="XFAIL known deviation of target 'x': why")
    result(tmp_path, "e", "okta", "skipped", message="target 'x' does not meet groups")
    (tmp_path / "other-result.json").write_text(json.dumps({"name": "a unit test", "labels": []}))
    statuses = {o.scenario: o.status for o in read_results(tmp_path)}
    assert statuses == {"a": "pass", "b": "pass", "c": "error", "d": "known", "e": "skip"}


def test_an_idp_is_certified_only_when_every_must_passed(tmp_path: Path):
    result(tmp_path, "a", "okta", "passed")
    result(tmp_path, "s", "okta", "failed", level="should")
    result(tmp_path, "a", "entra", "passed")
    result(tmp_path, "b", "entra", "skipped", message="target lacks groups")
    result(tmp_path, "a", "rfc", "skipped", message="XFAIL known deviation: x")
    matrix = Matrix(tuple(read_results(tmp_path)))
    okta, entra, rfc = (matrix.certification(i) for i in ("okta", "entra", "rfc"))
    assert (okta.level, okta.should_failed, okta.passed, okta.ran) == ("certified", ("s",), 1, 2)
    assert (entra.level, entra.must_skipped) == ("certified for the target's declared capabilities", ("b",))
    assert (rfc.level, rfc.must_not_passed) == ("not certified", ("a",))


def test_written_matrix_is_valid_json_markdown_and_badges(tmp_path: Path):
    results = tmp_path / "allure-results"
    results.mkdir()
    result(results, "a", "okta", "passed")
    result(results, "b", "okta", "failed", message="Scenario b [okta]: x\nmore")
    write_matrix(results, tmp_path, "https://scim.example.com/v2")
    data = json.loads((tmp_path / "matrix.json").read_text())
    assert validate_matrix(data) == []
    assert data["scenarios"][1]["results"]["okta"] == {"status": "fail", "message": "Scenario b [okta]: x"}
    assert "| `b` title of b | must | ❌ fail |" in (tmp_path / "matrix.md").read_text()
    badge = (tmp_path / "badges" / "okta.svg").read_text()
    assert "Okta: 1/2" in badge and "#c62828" in badge


def test_an_invalid_matrix_is_reported_by_the_schema():
    assert validate_matrix({"tool": {}, "idps": [], "scenarios": []})  # missing keys, wrong tool


def test_refs_become_links_to_the_rfc_section_the_catalogue_entry_or_the_url():
    assert ref_links(["RFC 7644 §3.5.2", "okta-scim-20", "https://developer.okta.com/x", "RFC 7643",
                      "not-in-the-catalogue"]) == [
        ("RFC 7644 §3.5.2", "https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2"),
        ("okta-scim-20", "https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20"),
        ("https://developer.okta.com/x", "https://developer.okta.com/x"),
        ("RFC 7643", "https://www.rfc-editor.org/rfc/rfc7643"),
    ]


def test_environment_drops_credentials_from_the_url_and_flattens_the_service_provider_config():
    env = environment("https://user:pass@scim.example.com/v2?x=1", "prod", ["okta"],
                      {"schemas": ["x"], "patch": {"supported": True},
                       "authenticationSchemes": [{"type": "oauthbearertoken"}]})
    assert env["target"] == "https://scim.example.com/v2?x=1"
    assert env["serviceProviderConfig.patch.supported"] == "true"
    assert env["serviceProviderConfig.authenticationSchemes"] == "oauthbearertoken"


def test_categories_name_each_idp_and_keep_harness_errors_apart():
    names = [c["name"] for c in categories(["Okta", "Microsoft Entra ID"])]
    assert names == ["target unreachable or not SCIM", "target deviates from RFC 7643/7644",
                     "target deviates from what Microsoft Entra ID needs", "target deviates from what Okta needs",
                     "harness or scenario error"]
