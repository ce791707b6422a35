"""Deviations that break what OneLogin, Ping, JumpCloud and Google Workspace send, for the fault tests.

Each one reproduces, on top of the conforming embedded scim2-server, one way a SCIM server
mishandles one of these IdPs' habits (jumpcloud-custom-scim, onelogin-scim-template, ping-scim-provisioner,
member-remove-value-array, onelogin-empty-user-agent, group-patch-repeats, filter-unusual-case; docs/idps.md). The fault
tests (tests/faults/test_idps_detection.py) say which scenario must catch each one, and at which step.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from tests.support.deviating_proxy import (
    Deviation,
    ProxyRequest,
    ProxyResponse,
    call_upstream,
    is_request,
    patch_operations,
    scim_error,
)

__all__ = ["IDPS_DEVIATIONS", "VALUE_ARRAY_REMOVE_SHIM"]

LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
_GROUP_BY_ID = re.compile(r"/Groups/([^/?]+)$")
# attribute path, operator: `username Eq "x"`, `emails[type eq "work"].value eq "x"`
_COMPARISON = re.compile(r'([A-Za-z][\w.:\-\[\]" ]*?)\s+(eq|ne|co|sw|ew|gt|ge|lt|le)\s+"', re.IGNORECASE)


# --------------------------------------------------------------------------- helpers








def _member_values(value: Any) -> list[str]:
    return [m["value"] for m in value if isinstance(m, dict) and isinstance(m.get("value"), str)] \
        if isinstance(value, list) else []


def _is_member_add(operation: dict[str, Any]) -> bool:
    return str(operation.get("op", "")).lower() == "add" and str(operation.get("path", "")).lower() == "members"


def _empty_list() -> dict[str, Any]:
    return {"schemas": [LIST_SCHEMA], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []}


# --------------------------------------------------------------------------- OneLogin


def _empty_user_agent_rejected(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    # A firewall rule or framework default that drops requests without a User-Agent (onelogin-empty-user-agent).
    if not request.headers.get("user-agent", "").strip():
        return scim_error(403, "Forbidden: requests without a User-Agent are not accepted")
    return request


def _group_patch_not_allowed(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    if is_request(request, "PATCH", "Groups", item=True):
        return scim_error(405, 'Method "PATCH" not allowed.')
    return request


def _trailing_ampersand_rejected(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    if urlsplit(request.path).query.endswith("&"):
        return scim_error(400, "Malformed query string: empty parameter", "invalidFilter")
    return request


# --------------------------------------------------------------------------- Ping


def _filter_operator_case_sensitive(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    if request.method != "GET":
        return request
    for expression in request.query.get("filter", []):
        for match in _COMPARISON.finditer(expression):
            operator = match.group(2)
            if operator != operator.lower():
                return scim_error(400, f"Unknown filter operator {operator!r}", "invalidFilter")
    return request


def _filter_attribute_case_sensitive(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    # Attribute names compared as written: `username` is not `userName`, so nothing matches.
    if not (is_request(request, "GET", "Users", item=False) and response.status == 200):
        return response
    for expression in request.query.get("filter", []):
        for match in _COMPARISON.finditer(expression):
            attribute = match.group(1).strip()
            if attribute.lower() == "username" and attribute != "userName":
                return response.with_json(_empty_list())
    return response


def _user_put_not_supported(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    if is_request(request, "PUT", "Users", item=True):
        return scim_error(405, "PUT is not supported on /Users; use PATCH")
    return request


def _create_ignores_active_false(request: ProxyRequest) -> ProxyRequest:
    body = request.json()
    if is_request(request, "POST", "Users", item=False) and isinstance(body, dict) and body.get("active") is False:
        return request.with_json({**body, "active": True})
    return request


def _group_list_requires_filter(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    # Only lookups are implemented: an unfiltered GET /Groups comes back empty.
    if is_request(request, "GET", "Groups", item=False) and not request.query.get("filter") and response.status == 200:
        return response.with_json(_empty_list())
    return response


# --------------------------------------------------------------------------- JumpCloud


def _current_members(request: ProxyRequest) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    group = call_upstream(request, "GET", request.route)
    if group.status_code != 200:
        return None
    body = group.json()
    return body, [m for m in body.get("members") or [] if isinstance(m, dict)]


def _repeated_member_add_conflict(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    adds = [op for op in patch_operations(request) if _is_member_add(op)]
    if not (is_request(request, "PATCH", "Groups", item=True) and adds):
        return request
    current = _current_members(request)
    if current is None:
        return request
    present = {m.get("value") for m in current[1]}
    for op in adds:
        for value in _member_values(op.get("value")):
            if value in present:
                return scim_error(409, f"User {value} is already a member of this group", "uniqueness")
    return request


def _repeated_member_add_duplicates(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    """Apply member adds by appending, without looking whether the member is there already."""
    operations = patch_operations(request)
    if not (is_request(request, "PATCH", "Groups", item=True) and operations and all(map(_is_member_add, operations))):
        return request
    current = _current_members(request)
    if current is None:
        return request
    group, members = current
    for op in operations:
        members += [{"value": value} for value in _member_values(op.get("value"))]
    replacement = {k: v for k, v in group.items() if k != "meta"}
    replacement["members"] = members
    answer = call_upstream(request, "PUT", request.route, replacement)
    return ProxyResponse(answer.status_code).with_json(answer.json())


def _is_value_array_remove(operation: dict[str, Any]) -> bool:
    return (str(operation.get("op", "")).lower() == "remove" and str(operation.get("path", "")).lower() == "members"
            and isinstance(operation.get("value"), list))


def _member_remove_value_array_ignored(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    operations = patch_operations(request)
    kept = [op for op in operations if not _is_value_array_remove(op)]
    if request.method == "PATCH" and len(kept) != len(operations):
        return ProxyResponse(204) if not kept else request.with_json({**request.json(), "Operations": kept})
    return request


def _value_array_remove_supported(request: ProxyRequest) -> ProxyRequest:
    """Not a deviation: turns each value-array remove into filtered removes scim2-server applies,
    so that the scenario can be shown to pass on a server that supports the form (control runs)."""
    operations = patch_operations(request)
    if request.method != "PATCH" or not any(map(_is_value_array_remove, operations)):
        return request
    rewritten: list[dict[str, Any]] = []
    for op in operations:
        if _is_value_array_remove(op):
            rewritten += [{"op": "remove", "path": f'members[value eq "{value}"]'}
                          for value in _member_values(op["value"])]
        else:
            rewritten.append(op)
    return request.with_json({**request.json(), "Operations": rewritten})


def _user_delete_not_allowed(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    if is_request(request, "DELETE", "Users", item=True):
        return scim_error(405, "Users cannot be deleted; set active to false")
    return request


# --------------------------------------------------------------------------- Google


def _users_list_requires_filter(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    if is_request(request, "GET", "Users", item=False) and not request.query.get("filter"):
        return scim_error(400, "A filter is required to query users", "invalidFilter")
    return request


def _count_requires_start_index(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    query = request.query
    if request.method == "GET" and "count" in query and "startIndex" not in query:
        return scim_error(400, "count requires startIndex", "invalidValue")
    return request


# --------------------------------------------------------------------------- the catalogue

VALUE_ARRAY_REMOVE_SHIM = Deviation(
    "value-array-remove-supported",
    "control, not a deviation: member removes by value array are applied (as filtered removes)",
    "RFC 7644 §3.5.2.2; lets the JumpCloud remove scenario pass through the proxy",
    rewrite_request=_value_array_remove_supported,
)

IDPS_DEVIATIONS: dict[str, Deviation] = {
    d.name: d
    for d in (
        # OneLogin
        Deviation("empty-user-agent-rejected",
                  "a request with an empty or missing User-Agent is refused with 403",
                  "onelogin-empty-user-agent: OneLogin's group membership PATCH carries an empty User-Agent "
                  "(authentik-11249)",
                  rewrite_request=_empty_user_agent_rejected),
        Deviation("group-patch-not-allowed", "PATCH /Groups/{id} answers 405 Method Not Allowed",
                  "authentik-11249: OneLogin syncs group membership only by PATCH; RFC 7644 §3.5.2",
                  rewrite_request=_group_patch_not_allowed),
        Deviation("trailing-ampersand-rejected",
                  "a query string that ends with '&' (an empty parameter) is refused with 400",
                  "authentik-11249: OneLogin's lookup is GET /Users?filter=userName+eq+%22...%22&",
                  rewrite_request=_trailing_ampersand_rejected),
        # Ping
        Deviation("filter-operator-case-sensitive",
                  'a filter operator not in lower case ("Eq") is refused with 400 invalidFilter',
                  'PingOne "SCIM filter expressions": username Eq "%s" (filter-unusual-case); RFC 7644 '
                  '§3.4.2.2 (operators '
                  "are case-insensitive)", rewrite_request=_filter_operator_case_sensitive),
        Deviation("filter-attribute-case-sensitive",
                  "filter attribute names match only as spelled in the schema: `username` finds nobody",
                  'PingOne "SCIM filter expressions": username Eq "%s" (filter-unusual-case); RFC 7644 '
                  '§3.4.2.2 (attribute '
                  "names are case-insensitive)", rewrite_response=_filter_attribute_case_sensitive),
        Deviation("user-put-not-supported", "PUT /Users/{id} answers 405: users can only be PATCHed",
                  "PingFederate SCIM Provisioner: PATCH for users No, every user update is a PUT",
                  rewrite_request=_user_put_not_supported),
        Deviation("create-ignores-active-false", "POST /Users with active false creates an active user",
                  "PingFederate 'Provision Disabled Users': disabled users are created with active false; "
                  "RFC 7643 §4.1.1", rewrite_request=_create_ignores_active_false),
        Deviation("group-list-requires-filter", "an unfiltered GET /Groups answers an empty list",
                  "PingFederate SCIM Provisioner: groups are matched by retrieving all groups; "
                  "RFC 7644 §3.4.2", rewrite_response=_group_list_requires_filter),
        # JumpCloud
        Deviation("repeated-member-add-conflict",
                  "a member add naming a user already in the group answers 409 uniqueness",
                  "infisical-2138, group-patch-repeats: JumpCloud re-sends member adds; RFC 7644 §3.5.2.1",
                  rewrite_request=_repeated_member_add_conflict),
        Deviation("repeated-member-add-duplicates",
                  "member adds are appended without a check: a re-sent add lists the user twice",
                  "infisical-2138, group-patch-repeats: JumpCloud re-sends member adds; RFC 7644 §3.5.2.1",
                  rewrite_request=_repeated_member_add_duplicates),
        Deviation("member-remove-value-array-ignored",
                  'remove with path "members" and a value array answers 204 and removes nobody',
                  "uni-moni KB: JumpCloud removes members by value array (member-remove-value-array); RFC 7644 "
                  "§3.5.2.2",
                  rewrite_request=_member_remove_value_array_ignored),
        Deviation("user-delete-not-allowed", "DELETE /Users/{id} answers 405 although the target profile "
                  "says users can be deleted",
                  "JumpCloud Test Connection deletes its test user, or deactivates it where DELETE is "
                  "not supported (the target profile must say so)", rewrite_request=_user_delete_not_allowed),
        # Google
        Deviation("users-list-requires-filter", "GET /Users without a filter is refused with 400",
                  "authn.sh guide: Google's setup probes GET /Users?count=1; RFC 7644 §3.4.2 (filter is "
                  "optional)", rewrite_request=_users_list_requires_filter),
        Deviation("count-requires-start-index", "a list request with count but no startIndex is refused with 400",
                  "authn.sh guide: Google's probe is GET /Users?count=1; RFC 7644 §3.4.2.4 (startIndex "
                  "defaults to 1)", rewrite_request=_count_requires_start_index),
    )
}
