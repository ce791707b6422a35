"""The RFC 7643/7644 JSON Schemas of ``conformance.engine.rfc``.

They are well-formed draft 2020-12 schemas, the real answers of a third-party
SCIM server (scim2-server) satisfy them, and each deviation from a MUST of the
RFCs is reported with the JSON path of the offending value.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from conformance.engine.rfc import ID_PREFIX, load_schema, schema_names, validate

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_REQUEST_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE_URN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
SPC_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"

SHIPPED = [
    "BulkResponse",
    "EnterpriseUser",
    "Error",
    "Group",
    "ListResponse",
    "PatchOp",
    "ResourceType",
    "Schema",
    "ServiceProviderConfig",
    "User",
]

BEARER_TOKEN = "rfc-schemas-test-token"
"""Started with a bearer token, the server announces authenticationSchemes (RFC 7643 §5)."""
SERVER_START_SECONDS = 20.0
SERVER_STOP_SECONDS = 10.0


# --------------------------------------------------------------------------
# minimal valid messages, built fresh for each test


def a_user() -> dict[str, Any]:
    return {"schemas": [USER_URN], "id": "2819c223", "userName": "bjensen"}


def a_group() -> dict[str, Any]:
    return {"schemas": [GROUP_URN], "id": "e9e30dba", "displayName": "Tour Guides"}


def a_list(total: object = 0) -> dict[str, Any]:
    return {"schemas": [LIST_URN], "totalResults": total}


def an_error() -> dict[str, Any]:
    return {"schemas": [ERROR_URN], "status": "404", "detail": "Resource 42 not found"}


def a_patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_URN], "Operations": list(operations)}


def a_service_provider_config() -> dict[str, Any]:
    return {
        "schemas": [SPC_URN],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": 100},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {"type": "oauthbearertoken", "name": "OAuth Bearer Token", "description": "Bearer"}
        ],
    }


def a_bulk_response(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [BULK_RESPONSE_URN], "Operations": list(operations)}


# --------------------------------------------------------------------------
# the schema files and the accessor module


def test_the_shipped_schemas_are_the_ten_rfc_messages() -> None:
    assert schema_names() == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_every_schema_file_is_a_valid_draft_2020_12_schema(name: str) -> None:
    schema = load_schema(name)

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_schema_id_is_the_conformance_urn_of_its_name(name: str) -> None:
    assert load_schema(name)["$id"] == f"{ID_PREFIX}{name}"


@pytest.mark.parametrize("name", SHIPPED)
def test_every_schema_has_a_title_and_cites_its_rfc_section(name: str) -> None:
    schema = load_schema(name)

    assert schema["title"]
    assert re.search(r"RFC 764[34] §\d", schema["description"])


def test_load_schema_of_an_unknown_name_raises_key_error_naming_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"'Users'.*known schemas: BulkResponse, .*User"):
        load_schema("Users")


def test_load_schema_hands_out_a_copy_the_caller_may_change() -> None:
    load_schema("User")["required"].clear()

    assert "id" in load_schema("User")["required"]


def test_validate_of_an_unknown_name_raises_key_error() -> None:
    with pytest.raises(KeyError, match="known schemas"):
        validate("Userz", a_user())


def test_a_valid_message_has_no_problems() -> None:
    assert validate("User", a_user()) == []


def test_problems_name_the_json_path_of_the_offending_value() -> None:
    answer = a_list(total=1)
    answer["Resources"] = [{"id": 7}]
    answer["startIndex"] = "1"

    expected = "at $.startIndex: '1' is not of type 'integer', 'null'"
    assert validate("ListResponse", answer) == [expected]


def test_a_key_that_is_not_an_identifier_is_bracketed_in_the_path() -> None:
    user = a_user() | {ENTERPRISE_URN: {"department": 42}}

    assert validate("User", user) == [
        f"at $['{ENTERPRISE_URN}'].department: 42 is not of type 'string', 'null'"
    ]


# --------------------------------------------------------------------------
# lenient where the RFCs are


def test_unknown_keys_and_extension_attributes_are_accepted() -> None:
    user = a_user() | {
        "schemas": [USER_URN, "urn:example:params:scim:schemas:extension:acme:2.0:User"],
        "urn:example:params:scim:schemas:extension:acme:2.0:User": {"badge": 7},
        "x-vendor-flag": True,
    }

    assert validate("User", user) == []


def test_a_null_optional_attribute_counts_as_unassigned() -> None:
    """RFC 7643 §2.5: unassigned, null and an empty array are the same state."""
    user = a_user() | {"externalId": None, "active": None, "emails": None, "name": None}

    assert validate("User", user) == []


def test_meta_dates_are_not_checked_as_date_time_format() -> None:
    """xsd:dateTime (RFC 7643 §2.3.5) is not RFC 3339, so format is only an annotation."""
    user = a_user() | {"meta": {"created": "2010-01-23T04:56:22", "lastModified": "yesterday"}}

    assert validate("User", user) == []


def test_a_list_of_zero_results_may_leave_out_resources() -> None:
    """RFC 7644 §3.4.2 asks for Resources only when totalResults is non-zero."""
    assert validate("ListResponse", a_list(total=0)) == []


def test_patch_op_accepts_entras_capitalised_operations() -> None:
    patch = a_patch(
        {"op": "Add", "path": "members", "value": [{"value": "2819c223"}]},
        {"op": "Replace", "path": "displayName", "value": "Tour Guides"},
        {"op": "Remove", "path": 'members[value eq "2819c223"]'},
    )

    assert validate("PatchOp", patch) == []


def test_a_replace_without_path_targets_the_resource_itself() -> None:
    patch = a_patch({"op": "replace", "value": {"active": False}})

    assert validate("PatchOp", patch) == []


# --------------------------------------------------------------------------
# deviations from the RFCs' MUSTs


def test_total_results_sent_as_a_string_is_flagged() -> None:
    expected = "at $.totalResults: '0' is not of type 'integer'"
    assert validate("ListResponse", a_list(total="0")) == [expected]


def test_a_negative_total_results_is_flagged() -> None:
    assert validate("ListResponse", a_list(total=-1)) == [
        "at $.totalResults: -1 is less than the minimum of 0"
    ]


def test_a_non_zero_total_without_resources_is_flagged() -> None:
    assert validate("ListResponse", a_list(total=2)) == ["at $: 'Resources' is a required property"]


def test_a_list_response_without_its_urn_is_flagged() -> None:
    answer = a_list() | {"schemas": [USER_URN]}

    expected = f'at $.schemas: ["{USER_URN}"] does not contain "{LIST_URN}"'
    assert validate("ListResponse", answer) == [expected]


def test_error_status_sent_as_an_integer_is_flagged() -> None:
    """RFC 7644 §3.12 makes status a JSON string; an integer is a deviation, flagged on purpose."""
    error = an_error() | {"status": 404}

    assert validate("Error", error) == [
        "at $.status: RFC 7644 §3.12: status is the HTTP status code expressed as a JSON string "
        '(e.g. "404"), not a number (got 404)'
    ]


def test_error_without_status_is_flagged() -> None:
    error = an_error()
    del error["status"]

    assert validate("Error", error) == ["at $: 'status' is a required property"]


def test_error_scim_type_outside_table_9_is_flagged() -> None:
    error = an_error() | {"status": "400", "scimType": "invalidRequest"}

    [problem] = validate("Error", error)
    assert problem.startswith("at $.scimType: 'invalidRequest' is not one of")


def test_user_without_id_is_flagged() -> None:
    user = a_user()
    del user["id"]

    assert validate("User", user) == ["at $: 'id' is a required property"]


def test_user_with_an_empty_user_name_is_flagged() -> None:
    user = a_user() | {"userName": ""}

    assert validate("User", user) == ["at $.userName: '' should be non-empty"]


def test_user_id_containing_the_reserved_bulk_id_is_flagged() -> None:
    user = a_user() | {"id": "bulkId:qwerty"}

    assert validate("User", user) == [
        'at $.id: RFC 7643 §3.1: the reserved string "bulkId" MUST NOT be used within an id '
        '(got "bulkId:qwerty")'
    ]


def test_active_sent_as_the_string_true_is_flagged() -> None:
    user = a_user() | {"active": "True"}

    assert validate("User", user) == ["at $.active: 'True' is not of type 'boolean', 'null'"]


def test_a_returned_password_is_flagged() -> None:
    user = a_user() | {"password": "t1meMa$heen"}

    [problem] = validate("User", user)
    assert problem.startswith("at $.password: RFC 7643 §4.1.1: a service provider SHALL NOT")


def test_two_primary_emails_are_flagged() -> None:
    user = a_user() | {
        "emails": [
            {"value": "a@example.com", "primary": True},
            {"value": "b@example.com", "primary": True},
        ]
    }

    [problem] = validate("User", user)
    assert problem.startswith("at $.emails: RFC 7643 §2.4: the primary attribute value true MUST")


def test_a_non_string_email_value_is_flagged() -> None:
    user = a_user() | {"emails": [{"value": 42, "type": "work"}]}

    assert validate("User", user) == ["at $.emails[0].value: 42 is not of type 'string', 'null'"]


def test_an_enterprise_extension_that_is_not_an_object_is_flagged() -> None:
    user = a_user() | {ENTERPRISE_URN: "Sales"}

    assert validate("User", user) == [f"at $['{ENTERPRISE_URN}']: 'Sales' is not of type 'object'"]


def test_group_member_without_value_is_flagged() -> None:
    group = a_group() | {"members": [{"display": "Babs Jensen", "type": "User"}]}

    assert validate("Group", group) == ["at $.members[0]: 'value' is a required property"]


def test_group_without_display_name_is_flagged() -> None:
    group = a_group()
    del group["displayName"]

    assert validate("Group", group) == ["at $: 'displayName' is a required property"]


def test_patch_op_with_empty_operations_is_flagged() -> None:
    rule = "RFC 7644 §3.5.2: Operations MUST hold one or more PATCH operations"
    assert validate("PatchOp", a_patch()) == [f"at $.Operations: {rule} (got [])"]


def test_a_remove_without_path_is_flagged() -> None:
    patch = a_patch({"op": "remove", "value": [{"value": "2819c223"}]})

    assert validate("PatchOp", patch) == ["at $.Operations[0]: 'path' is a required property"]


def test_an_add_without_value_is_flagged() -> None:
    patch = a_patch({"op": "add", "path": "emails"})

    assert validate("PatchOp", patch) == ["at $.Operations[0]: 'value' is a required property"]


def test_an_op_outside_add_remove_replace_is_flagged() -> None:
    patch = a_patch({"op": "move", "path": "emails", "value": []})

    [problem] = validate("PatchOp", patch)
    assert problem.startswith("at $.Operations[0].op: 'move' is not one of")


def test_service_provider_config_bulk_without_max_operations_is_flagged() -> None:
    config = a_service_provider_config()
    del config["bulk"]["maxOperations"]

    expected = "at $.bulk: 'maxOperations' is a required property"
    assert validate("ServiceProviderConfig", config) == [expected]


def test_service_provider_config_without_authentication_schemes_is_flagged() -> None:
    config = a_service_provider_config()
    del config["authenticationSchemes"]

    expected = "at $: 'authenticationSchemes' is a required property"
    assert validate("ServiceProviderConfig", config) == [expected]


def test_service_provider_config_supported_sent_as_a_string_is_flagged() -> None:
    config = a_service_provider_config()
    config["patch"]["supported"] = "true"

    assert validate("ServiceProviderConfig", config) == [
        "at $.patch.supported: 'true' is not of type 'boolean'"
    ]


def test_bulk_operation_error_without_response_is_flagged() -> None:
    answer = a_bulk_response({"method": "DELETE", "location": "/Users/9", "status": "404"})

    expected = "at $.Operations[0]: 'response' is a required property"
    assert validate("BulkResponse", answer) == [expected]


def test_a_failed_bulk_post_needs_no_location() -> None:
    answer = a_bulk_response(
        {
            "method": "POST",
            "bulkId": "q",
            "status": "409",
            "response": an_error() | {"status": "409"},
        }
    )

    assert validate("BulkResponse", answer) == []


# --------------------------------------------------------------------------
# real answers of a third-party SCIM server


@dataclass(frozen=True)
class Answers:
    """Bodies a real scim2-server sent, by what was asked."""

    created_user: dict[str, Any]
    fetched_user: dict[str, Any]
    created_group: dict[str, Any]
    group_with_member: dict[str, Any]
    user_list: dict[str, Any]
    empty_list: dict[str, Any]
    not_found: dict[str, Any]
    conflict: dict[str, Any]
    bad_filter: dict[str, Any]
    service_provider_config: dict[str, Any]
    resource_types: dict[str, Any]
    schemas: dict[str, Any]
    bulk: dict[str, Any]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=SERVER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=SERVER_STOP_SECONDS)


def _wait_until_serving(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"scim2-server exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/ServiceProviderConfig", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    waited = f"scim2-server did not answer within {SERVER_START_SECONDS}s"
    raise RuntimeError(f"{waited}:\n{log.read_text()}")


@pytest.fixture(scope="module")
def scim_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a scim2-server on a free loopback port, stopped afterwards."""
    if importlib.util.find_spec("scim2_server") is None:
        pytest.skip("scim2-server is not installed (it is in the 'test' extra)")
    log = tmp_path_factory.mktemp("scim2-server") / "server.log"
    port = _free_port()
    command = [sys.executable, "-m", "scim2_server.testserver.cli"]
    command += ["--hostname", "127.0.0.1", "--port", str(port), "--bearer-token", BEARER_TOKEN]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v2"
    try:
        _wait_until_serving(process, base_url, log)
        yield base_url
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def answers(scim_server: str) -> Answers:
    headers = {
        "Authorization": f"Bearer {BEARER_TOKEN}",
        "Content-Type": "application/scim+json",
        "Accept": "application/scim+json",
    }
    with httpx.Client(base_url=scim_server, headers=headers, timeout=10.0) as client:
        user = {
            "schemas": [USER_URN, ENTERPRISE_URN],
            "userName": "bjensen@example.com",
            "externalId": "00u1",
            "password": "t1meMa$heen",
            "active": True,
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
            ENTERPRISE_URN: {"employeeNumber": "701984", "department": "Tour Operations"},
        }
        created_user = client.post("/Users", json=user)
        user_id = created_user.json()["id"]
        created_group = client.post("/Groups", json={"schemas": [GROUP_URN], "displayName": "Tour"})
        group_id = created_group.json()["id"]
        add_member = a_patch({"op": "add", "path": "members", "value": [{"value": user_id}]})
        client.patch(f"/Groups/{group_id}", json=add_member).raise_for_status()
        bulk = {
            "schemas": [BULK_REQUEST_URN],
            "Operations": [
                {
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": "q1",
                    "data": {"schemas": [USER_URN], "userName": "alice@example.com"},
                },
                {"method": "DELETE", "path": "/Users/no-such-user"},
            ],
        }
        return Answers(
            created_user=created_user.json(),
            fetched_user=client.get(f"/Users/{user_id}").json(),
            created_group=created_group.json(),
            group_with_member=client.get(f"/Groups/{group_id}").json(),
            user_list=client.get("/Users").json(),
            empty_list=client.get("/Users", params={"filter": 'userName eq "nobody"'}).json(),
            not_found=client.get("/Users/no-such-user").json(),
            conflict=client.post("/Users", json=user).json(),
            bad_filter=client.get("/Users", params={"filter": "userName eq"}).json(),
            service_provider_config=client.get("/ServiceProviderConfig").json(),
            resource_types=client.get("/ResourceTypes").json(),
            schemas=client.get("/Schemas").json(),
            bulk=client.post("/Bulk", json=bulk).json(),
        )


def test_the_server_created_user_is_a_valid_user(answers: Answers) -> None:
    assert validate("User", answers.created_user) == []


def test_the_server_fetched_user_is_a_valid_user_with_its_enterprise_extension(
    answers: Answers,
) -> None:
    assert ENTERPRISE_URN in answers.fetched_user
    assert validate("User", answers.fetched_user) == []


def test_the_server_group_with_a_member_is_a_valid_group(answers: Answers) -> None:
    assert answers.group_with_member["members"]
    assert validate("Group", answers.group_with_member) == []


def test_the_server_created_group_is_a_valid_group(answers: Answers) -> None:
    assert validate("Group", answers.created_group) == []


def test_the_server_user_list_is_a_valid_list_response_of_valid_users(answers: Answers) -> None:
    assert validate("ListResponse", answers.user_list) == []
    for user in answers.user_list["Resources"]:
        assert validate("User", user) == []


def test_the_server_empty_list_is_a_valid_list_response(answers: Answers) -> None:
    assert answers.empty_list["totalResults"] == 0
    assert validate("ListResponse", answers.empty_list) == []


def test_the_server_404_is_a_valid_error(answers: Answers) -> None:
    assert answers.not_found["status"] == "404"
    assert validate("Error", answers.not_found) == []


def test_the_server_409_uniqueness_is_a_valid_error(answers: Answers) -> None:
    assert answers.conflict["scimType"] == "uniqueness"
    assert validate("Error", answers.conflict) == []


def test_the_server_invalid_filter_answer_is_a_valid_error(answers: Answers) -> None:
    assert answers.bad_filter["scimType"] == "invalidFilter"
    assert validate("Error", answers.bad_filter) == []


def test_the_server_service_provider_config_is_valid(answers: Answers) -> None:
    assert validate("ServiceProviderConfig", answers.service_provider_config) == []


def test_the_server_resource_types_are_valid(answers: Answers) -> None:
    assert validate("ListResponse", answers.resource_types) == []
    assert answers.resource_types["Resources"]
    for resource_type in answers.resource_types["Resources"]:
        assert validate("ResourceType", resource_type) == []


def test_the_server_schemas_are_valid(answers: Answers) -> None:
    assert validate("ListResponse", answers.schemas) == []
    assert answers.schemas["Resources"]
    for schema in answers.schemas["Resources"]:
        assert validate("Schema", schema) == []


def test_the_server_bulk_answer_is_a_valid_bulk_response(answers: Answers) -> None:
    assert validate("BulkResponse", answers.bulk) == []
    for operation in answers.bulk["Operations"]:
        if "response" in operation:
            assert validate("Error", operation["response"]) == []


def test_a_real_user_with_a_string_active_fails_at_active(answers: Answers) -> None:
    user = copy.deepcopy(answers.fetched_user) | {"active": "True"}

    assert validate("User", user) == ["at $.active: 'True' is not of type 'boolean', 'null'"]
