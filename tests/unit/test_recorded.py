"""Observed exchanges -> scenario: ids become captures, personal data becomes generated values,
secrets are never written, and the result is a scenario the loader accepts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.commands.cli import build_parser
from conformance.engine.profiles import load_idp_profiles
from conformance.engine.scenario.loader import load_scenario
from conformance.engine.templating import render
from conformance.recording.compiler import build_scenario, scenario_id_for
from conformance.recording.observed import Observed, Recording, RecordingError

REPO = Path(__file__).resolve().parents[2]
BASE = "http://127.0.0.1:9999/v2"
JSON = [("Content-Type", "application/scim+json")]
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
ID = "2819c2237f76453a919d413861904646"
TOKEN = "tok-unit-Zq8wX3vN5kP2mR7tL9yB"
PASSWORD = "Pw-unit-9f8e7d6c!"


def ex(method: str, target: str, request: Any = None, status: int = 200, answer: Any = None,
       headers: list[tuple[str, str]] | None = None, answer_headers: list[tuple[str, str]] | None = None) -> Observed:
    sent = [("Authorization", f"Bearer {TOKEN}"), ("Accept", "application/scim+json"), *(headers or [])]
    if request is not None:
        sent.append(("Content-Type", "application/scim+json"))
    return Observed(
        method=method,
        target=target,
        request_headers=sent,
        request_body=json.dumps(request).encode() if request is not None else b"",
        status=status,
        response_headers=(JSON if answer is not None else []) + (answer_headers or []),
        response_body=json.dumps(answer).encode() if answer is not None else b"",
    )


def user(resource_id: str, **attributes: Any) -> dict[str, Any]:
    return {"schemas": [USER], "id": resource_id,
            "meta": {"resourceType": "User", "created": "2026-01-01T00:00:00Z", "version": 'W/"1"',
                     "location": f"{BASE}/Users/{resource_id}"}, **attributes}


def listing(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [LIST], "totalResults": len(resources), "startIndex": 1, "itemsPerPage": len(resources),
            "Resources": list(resources)}


def build(exchanges: list[Observed], **options: Any) -> tuple[Recording, dict[str, Any]]:
    recording = build_scenario(exchanges, base_url=BASE, scenario_id="recorded-unit", **options)
    return recording, yaml.safe_load(recording.text)


ALICE = {"userName": "alice.liddell@corp.example", "displayName": "Alice (Wonderland)",
         "name": {"givenName": "Alice", "familyName": "Liddell", "formatted": "Alice Liddell"},
         "emails": [{"value": "a.liddell@wonderland.example", "type": "work", "primary": True}],
         "externalId": "00uAbCdEfGhIjKlMnOpQ", "phoneNumbers": [{"value": "+44 20 7946 0958", "type": "work"}],
         "addresses": [{"streetAddress": "12 Rabbit Hole Lane", "locality": "Oxford"}]}
PERSONAL = ["alice.liddell@corp.example", "Alice Liddell", "Wonderland", "Liddell", "a.liddell@wonderland.example",
            "00uAbCdEfGhIjKlMnOpQ", "7946 0958", "Rabbit Hole", "Alice Pleasance"]


def lifecycle() -> list[Observed]:
    """Look up, create, read, rename, look up again, delete: what an IdP does to one user."""
    created = user(ID, active=True, **ALICE)
    renamed = dict(created, displayName="Alice Pleasance")
    return [
        ex("GET", '/v2/Users?filter=userName%20eq%20%22alice.liddell%40corp.example%22', answer=listing()),
        ex("POST", "/v2/Users", {"schemas": [USER], "password": PASSWORD, "active": True, **ALICE}, 201, created,
           answer_headers=[("Location", f"{BASE}/Users/{ID}"), ("ETag", 'W/"1"')]),
        ex("GET", f"/v2/Users/{ID}", answer=created, answer_headers=[("ETag", 'W/"1"')]),
        ex("PATCH", f"/v2/Users/{ID}",
           {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "displayName", "value": "Alice Pleasance"},
                                                  {"op": "Replace", "path": "active", "value": "False"}]},
           200, dict(renamed, active=False), headers=[("If-Match", 'W/"1"')], answer_headers=[("ETag", 'W/"2"')]),
        ex("GET", '/v2/Users?filter=userName%20eq%20%22alice.liddell%40corp.example%22',
           answer=listing(dict(renamed, active=False))),
        ex("DELETE", f"/v2/Users/{ID}", status=204),
    ]


# --------------------------------------------------------------------------- ids -> captures


def test_an_id_the_server_assigned_is_captured_where_it_came_back_and_referenced_after():
    recording, doc = build(lifecycle())
    steps = doc["steps"]
    assert steps[1]["capture"]["user_1_id"] == "body.id"
    assert "id" not in steps[1]["expect"]["json"]  # not captured yet at its own step
    assert steps[2]["request"]["path"] == "/Users/${user_1_id}"
    assert steps[2]["expect"]["json"]["id"] == "${user_1_id}"
    assert steps[4]["expect"]["json"]["Resources"][0]["id"] == "${user_1_id}"
    assert steps[5]["request"]["path"] == "/Users/${user_1_id}"
    assert ID not in recording.text


def test_an_etag_sent_back_in_if_match_is_captured_and_referenced():
    _, doc = build(lifecycle())
    steps = doc["steps"]
    assert steps[1]["capture"] == {"user_1_id": "body.id", "etag_1": "headers.etag"}
    assert steps[3]["request"]["headers"]["If-Match"] == "${etag_1}"
    assert steps[1]["expect"]["headers"] == {"content-type": "application/scim+json", "location": True,
                                             "etag": True}


def test_an_id_first_seen_in_a_list_is_captured_at_its_position():
    other = "5b1e3a9c0d7f4e2a8c6b9d0e1f2a3b4c"
    exchanges = [
        ex("GET", "/v2/Users?filter=externalId%20eq%20%22x-1%22",
           answer=listing(user(other, userName="bob@x.example", externalId="x-1"))),
        ex("GET", f"/v2/Users/{other}", answer=user(other, userName="bob@x.example", externalId="x-1")),
    ]
    _, doc = build(exchanges)
    assert doc["steps"][0]["capture"] == {"user_1_id": "body.Resources[0].id"}
    assert doc["steps"][1]["request"]["path"] == "/Users/${user_1_id}"
    assert "json" not in doc["steps"][0]["expect"]  # the list holds a user this recording did not create


def test_an_id_the_idp_knew_before_the_recording_is_kept_and_said_so():
    known = "0f0f0f0f0f0f4f0f8f0f0f0f0f0f0f0f"
    recording, doc = build([ex("GET", f"/v2/Users/{known}", answer=user(known, userName="c@x.example"))])
    assert doc["steps"][0]["request"]["path"] == f"/Users/{known}"
    assert "capture" not in doc["steps"][0]
    assert any("before the recording saw the server return them" in note for note in recording.notes)


def test_a_short_id_is_replaced_only_where_ids_stand():
    exchanges = [
        ex("POST", "/v2/Users", {"schemas": [USER], "userName": "dee@x.example"}, 201,
           user("7", userName="dee@x.example")),
        ex("GET", "/v2/Users?startIndex=7&count=7", answer={"schemas": [LIST], "totalResults": 7, "Resources": []}),
        ex("PATCH", "/v2/Groups/g1",
           {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": "7"}]}]}, 204),
    ]
    _, doc = build(exchanges)
    assert doc["steps"][1]["request"]["query"] == {"startIndex": "7", "count": "7"}
    assert doc["steps"][2]["request"]["body"]["Operations"][0]["value"] == [{"value": "${user_1_id}"}]


# --------------------------------------------------------------------------- personal data -> fake


def test_personal_data_is_replaced_by_generated_values_consistently():
    recording, doc = build(lifecycle())
    for value in PERSONAL:
        assert value not in recording.text, value
    assert doc["vars"] == {"user_1": "${fake.user()}", "user_1_v2": "${fake.user()}"}
    steps = doc["steps"]
    # The lookup before the create names the same person as the create.
    assert steps[0]["request"]["query"] == {"filter": 'userName eq "${user_1.userName}"'}
    body = steps[1]["request"]["body"]
    assert body["userName"] == "${user_1.userName}"
    assert body["emails"][0]["value"] == "${user_1_v2.email}"  # a second login-like value: a second person
    assert body["name"] == {"givenName": "${user_1.givenName}", "familyName": "${user_1.familyName}",
                            "formatted": "${user_1.formatted}"}
    assert body["externalId"] == "${user_1.oktaId}"  # an Okta id (00u...) stays Okta-shaped
    assert body["phoneNumbers"][0]["value"] == "+1 555 ${user_1.employeeNumber}"
    assert body["addresses"][0]["streetAddress"] == "${user_1.employeeNumber} Main Street"
    # The answer echoes the same values: the same templates.
    assert steps[1]["expect"]["json"]["userName"] == "${user_1.userName}"
    assert steps[1]["expect"]["json"]["name"]["familyName"] == "${user_1.familyName}"
    # The rename takes a new displayName from the person's second version, and reads back as it.
    assert steps[3]["request"]["body"]["Operations"][0]["value"] == "${user_1_v2.displayName}"
    assert steps[4]["expect"]["json"]["Resources"][0]["displayName"] == "${user_1_v2.displayName}"
    assert steps[4]["request"]["query"] == {"filter": 'userName eq "${user_1.userName}"'}


def test_keep_values_keeps_personal_data_but_not_ids_or_secrets():
    recording, doc = build(lifecycle(), keep_values=True)
    assert "alice.liddell@corp.example" in recording.text
    assert doc["steps"][1]["request"]["body"]["displayName"] == "Alice (Wonderland)"
    assert doc["steps"][2]["request"]["path"] == "/Users/${user_1_id}"
    assert doc["steps"][1]["request"]["body"]["password"] == "${user_1.password}"
    assert doc["vars"] == {"user_1": "${fake.user()}"}  # only for the password
    assert PASSWORD not in recording.text


def test_a_group_and_its_members_get_generated_names():
    group_id, member = "9a9a9a9a9a9a4a9a8a9a9a9a9a9a9a9a", "1b1b1b1b1b1b4b1b8b1b1b1b1b1b1b1b"
    group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": group_id,
             "displayName": "Finance Team Berlin", "meta": {"resourceType": "Group"},
             "members": [{"value": member, "display": "Carol Jones", "$ref": f"{BASE}/Users/{member}"}]}
    exchanges = [
        ex("POST", "/v2/Users", {"schemas": [USER], "userName": "carol@x.example", "displayName": "Carol Jones"}, 201,
           user(member, userName="carol@x.example", displayName="Carol Jones")),
        ex("POST", "/v2/Groups", {"schemas": group["schemas"], "displayName": "Finance Team Berlin",
                                  "members": [{"value": member}]}, 201, group),
    ]
    recording, doc = build(exchanges)
    assert "Finance Team" not in recording.text and "Carol" not in recording.text
    assert doc["vars"]["group_1"] == "${fake.group()}"
    expected = doc["steps"][1]["expect"]["json"]
    assert expected["displayName"] == "${group_1.displayName}"
    assert expected["members"] == [{"value": "${user_1_id}", "display": "${user_1.displayName}"}]  # no $ref


# --------------------------------------------------------------------------- secrets


def test_secrets_are_never_written():
    exchanges = [
        ex("POST", "/v2/Users", {"schemas": [USER], "userName": "eve@x.example", "password": PASSWORD}, 201,
           user(ID, userName="eve@x.example"), headers=[("Cookie", "session=ck-unit-abcdef123456; theme=dark"),
                                                        ("X-Api-Key", "key-unit-112233445566")]),
        ex("PATCH", f"/v2/Users/{ID}", {"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": "password", "value": "Pw-unit-second-42!"}]}, 204),
        ex("GET", "/v2/Users?access_token=qt-unit-998877665544&count=5",
           answer={"schemas": [ERROR], "status": "401", "detail": f"bad token {TOKEN} for eve@x.example"}, status=401),
    ]
    recording, doc = build(exchanges)
    for secret in (TOKEN, PASSWORD, "Pw-unit-second-42!", "ck-unit-abcdef123456", "key-unit-112233445566",
                   "qt-unit-998877665544", "Bearer", "Cookie", "X-Api-Key"):
        assert secret not in recording.text, secret
    steps = doc["steps"]
    assert steps[0]["request"]["body"]["password"] == "${user_1.password}"
    assert steps[1]["request"]["body"]["Operations"][0]["value"] == "${user_1_v2.password}"
    assert steps[2]["request"]["query"] == {"count": "5"}
    assert recording.notes == ["step 3: query parameter(s) 'access_token' left out: they carry a secret"]
    assert steps[2]["expect"]["json"] == {"schemas": [ERROR], "status": "401"}  # no free-text detail
    assert set(steps[0]["request"]["headers"]) == {"Accept", "Content-Type"}


def test_a_request_sent_without_credentials_is_replayed_without_them():
    exchange = ex("GET", "/v2/Users", answer=listing())
    exchange.request_headers = [("Accept", "application/scim+json")]
    _, doc = build([exchange])
    assert doc["steps"][0]["request"]["auth"] == "none"
    _, doc = build([ex("GET", "/v2/Users", answer=listing())])
    assert "auth" not in doc["steps"][0]["request"]


# --------------------------------------------------------------------------- faithful templates


def test_with_keep_values_the_templates_render_back_to_the_recorded_requests():
    exchanges = lifecycle()
    exchanges.append(ex("POST", "/v2/Users", {"schemas": [USER], "userName": "odd@x.example",
                                              "nickName": "costs ${price} and $${more}"}, 400,
                        {"schemas": [ERROR], "status": "400", "scimType": "invalidValue", "detail": "no"}))
    _, doc = build(exchanges, keep_values=True)
    scope = {"user_1_id": ID, "etag_1": 'W/"1"',
             "user_1": {"password": PASSWORD}, "user_1_v2": {}, "user_2": {}}
    for exchange, step in zip(exchanges, doc["steps"], strict=True):
        request = render(step["request"], scope)
        path = exchange.target.partition("?")[0]
        assert "/v2" + request["path"] == path
        if "body" in request:
            assert request["body"] == json.loads(exchange.request_body)
        if exchange.request_header("If-Match"):
            assert request["headers"]["If-Match"] == exchange.request_header("If-Match")
    assert doc["steps"][-1]["request"]["body"]["nickName"] == "costs $${price} and $$${more}"
    assert doc["steps"][-1]["expect"]["json"] == {
        "schemas": [ERROR], "status": "400", "scimType": "invalidValue"}


def test_entra_string_booleans_stay_strings():
    _, doc = build(lifecycle())
    operations = doc["steps"][3]["request"]["body"]["Operations"]
    assert operations[1]["value"] == "False" and isinstance(operations[1]["value"], str)
    assert doc["steps"][3]["expect"]["json"]["active"] is False


# --------------------------------------------------------------------------- expectations


def test_a_list_of_the_whole_collection_is_checked_by_its_schema_only():
    stranger = user("3c3c3c3c3c3c4c3c8c3c3c3c3c3c3c3c", userName="zed@x.example")
    _, doc = build([ex("GET", "/v2/Users?startIndex=1&count=100", answer=listing(stranger))])
    assert doc["steps"][0]["expect"] == {"status": 200, "headers": {"content-type": "application/scim+json"},
                                         "schema": "ListResponse"}


def test_a_no_content_answer_expects_an_empty_body_and_a_schema_only_when_valid():
    _, doc = build(lifecycle())
    assert doc["steps"][5]["expect"] == {"status": 204, "empty_body": True}
    broken = {"schemas": [USER], "id": 5, "userName": "x@x.example"}  # id must be a string
    _, doc = build([ex("GET", "/v2/Users/5", answer=broken)])
    assert "schema" not in doc["steps"][0]["expect"]


def test_what_cannot_be_replayed_is_left_out_and_said_so():
    exchanges = [ex("HEAD", "/v2/Users"), ex("GET", "/v2/Users", status=429), ex("GET", "/other/Users"),
                 ex("GET", "/v2/ServiceProviderConfig", answer={"schemas": ["x"]})]
    recording, doc = build(exchanges)
    assert [s["request"]["path"] for s in doc["steps"]] == ["/ServiceProviderConfig"]
    assert len(recording.left_out) == 3
    assert any("429" in line for line in recording.left_out)
    with pytest.raises(RecordingError, match="no request can be replayed"):
        build(exchanges[:3])


def test_the_target_base_query_is_not_repeated_in_each_step():
    recording = build_scenario([ex("GET", "/scim/Users?aadOptscim062020&filter=userName%20eq%20%22u%22",
                                   answer=listing())],
                               base_url="https://h.example/scim?aadOptscim062020", scenario_id="recorded-q")
    step = yaml.safe_load(recording.text)["steps"][0]
    assert step["request"]["path"] == "/Users"
    assert "aadOptscim062020" not in json.dumps(step)


def test_a_step_name_stays_short_and_the_rest_goes_to_its_description(tmp_path: Path):
    operations = [{"op": "replace", "path": f"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:attr{n}",
                   "value": "x"} for n in range(3)]
    long_path = "/v2/Users/" + "a" * 90
    recording, document = build([
        ex("PATCH", long_path, {"schemas": [PATCH_OP], "Operations": operations}, 204),
        ex("PATCH", "/v2/Users/short", {"schemas": [PATCH_OP], "Operations": operations[:1]}, 204),
    ])
    first, second = document["steps"]
    assert first["name"] == f"PATCH /Users/{'a' * 60}… → 204"
    assert len(first["name"]) == 80
    assert first["description"].splitlines()[0] == f"Sent as PATCH /Users/{'a' * 90} → 204."
    assert first["description"].splitlines()[1].startswith("Operations: replace urn:")
    assert len(second["name"]) <= 80 and "description" in second
    path = tmp_path / "names.scenario.yaml"
    path.write_text(recording.text, encoding="utf-8")
    load_scenario(path, load_idp_profiles(REPO / "profiles"))  # the loader's limit on names holds


# --------------------------------------------------------------------------- the file


def test_the_scenario_passes_the_loader(tmp_path: Path):
    recording, _ = build(lifecycle(), header=["Recorded by a unit test", f"Target: {BASE}"])
    assert recording.text.startswith("# Recorded by a unit test\n# Target: ")
    path = tmp_path / "unit.scenario.yaml"
    path.write_text(recording.text, encoding="utf-8")
    scenario = load_scenario(path, load_idp_profiles(REPO / "profiles"))
    assert scenario.id == "recorded-unit"
    assert scenario.idps == ("recorded",)
    assert len(scenario.steps) == 6
    assert [c.text for c in scenario.requires] == ["users", "filter", "patch", "delete_users"]


def test_scenario_ids_come_from_the_file_name():
    assert scenario_id_for("Entra Sync.scenario.yaml") == "recorded-entra-sync"
    assert scenario_id_for("recorded-okta.scenario.yaml") == "recorded-okta"
    assert scenario_id_for("___.har") == "recorded-traffic"


@pytest.mark.parametrize("command", ["record", "import"])
def test_the_commands_have_help_with_an_example(command: str, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "example:" in text and "--keep-values" in text and "--out" in text
