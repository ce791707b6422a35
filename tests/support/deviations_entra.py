"""Deviations that break what Microsoft Entra ID sends, for the Entra detection tests.

Each one reproduces, on top of the conforming embedded scim2-server, one way real SCIM servers
mishandle Entra's requests (entra-scim-tutorial). tests/faults/test_entra_detection.py says which
Entra scenario must catch each one, and at which step.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.support.deviating_proxy import CATALOGUE, Deviation, ProxyRequest, ProxyResponse, scim_error

__all__ = ["ENTRA_DEVIATIONS"]

_ACTIVE = re.compile(r"^(?:urn:ietf:params:scim:schemas:core:2\.0:User:)?active$", re.IGNORECASE)
_WORK_EMAIL_PATH = re.compile(r'^emails\[\s*type\s+eq\s+"work"\s*\]\.value$', re.IGNORECASE)
_ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:"
_MEMBER_FILTER = re.compile(r"^members\[", re.IGNORECASE)
_USER_BY_ID = re.compile(r"/Users/([^/?]+)$")
_GROUP_BY_ID = re.compile(r"/Groups/([^/?]+)$")


# --------------------------------------------------------------------------- helpers


def _operations(request: ProxyRequest) -> tuple[dict[str, Any], list[Any]] | None:
    """The PatchOp body and its Operations, for a PATCH that has them."""
    if request.method != "PATCH":
        return None
    body = request.json()
    if not isinstance(body, dict) or not isinstance(body.get("Operations"), list):
        return None
    return body, body["Operations"]


def _with_operations(request: ProxyRequest, body: dict[str, Any], kept: list[Any]) -> ProxyRequest | ProxyResponse:
    """Forward the PATCH with `kept` ops; if none is left, answer 204 as a silent no-op would."""
    if not kept:
        return ProxyResponse(status=204)
    return request.with_json({**body, "Operations": kept})


def _path(operation: Any) -> str | None:
    path = operation.get("path") if isinstance(operation, dict) else None
    return path.strip() if isinstance(path, str) else None


def _is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _active_values(operations: list[Any]) -> list[Any]:
    """Every value the ops give `active` (with a path, or as a key of a path-less value)."""
    values = []
    for operation in operations:
        if not isinstance(operation, dict):
            continue
        path, value = _path(operation), operation.get("value")
        if path is not None and _ACTIVE.match(path):
            values.append(value)
        elif path is None and isinstance(value, dict):
            values += [v for k, v in value.items() if _ACTIVE.match(k)]
    return values


def _is_list(request: ProxyRequest, endpoint: str) -> bool:
    return request.method == "GET" and request.route.rstrip("/").endswith("/" + endpoint)


# --------------------------------------------------------------------------- request rewrites


def _false_string_is_true(request: ProxyRequest) -> ProxyRequest:
    """`"value": "False"` on active is read as a truthy string: the user is set active."""
    found = _operations(request)
    if found is None:
        return request
    body, operations = found
    changed = []
    for operation in operations:
        if _ACTIVE.match(_path(operation) or "") and isinstance(operation.get("value"), str):
            operation = {**operation, "value": True}
        changed.append(operation)
    return request.with_json({**body, "Operations": changed}) if changed != operations else request


def _string_boolean_rejected(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    """A typed validator refuses "True"/"False" where the schema says boolean."""
    found = _operations(request)
    if found is None:
        return request
    for value in _active_values(found[1]):
        if isinstance(value, str):
            return scim_error(400, f"active: {value!r} is not a boolean", "invalidValue")
    return request


def _pathless_ignored(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    """Ops without a path are dropped, and the PATCH still succeeds."""
    found = _operations(request)
    if found is None:
        return request
    body, operations = found
    kept = [op for op in operations if _path(op) is not None]
    return request if kept == operations else _with_operations(request, body, kept)


def _work_email_dropped(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    """Ops on emails[type eq "work"].value are dropped, and the PATCH still succeeds."""
    found = _operations(request)
    if found is None:
        return request
    body, operations = found
    kept = [op for op in operations if not _WORK_EMAIL_PATH.match(_path(op) or "")]
    return request if kept == operations else _with_operations(request, body, kept)


def _enterprise_urn_rejected(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    """A PATCH path or path-less key qualified by the enterprise URN is refused (invalidPath)."""
    found = _operations(request)
    if found is None:
        return request
    for operation in found[1]:
        if not isinstance(operation, dict):
            continue
        value = operation.get("value")
        names = [_path(operation) or ""] + (list(value) if _path(operation) is None and isinstance(value, dict) else [])
        for name in names:
            if name.lower().startswith(_ENTERPRISE):
                return scim_error(400, f"Unknown attribute path {name!r}", "invalidPath")
    return request


def _nulls_ignored(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    """Ops (and path-less keys) whose value is null or "" are dropped: nothing gets cleared."""
    found = _operations(request)
    if found is None:
        return request
    body, operations = found
    kept: list[Any] = []
    for operation in operations:
        if isinstance(operation, dict) and str(operation.get("op", "")).lower() != "remove":
            value = operation.get("value")
            if value is None or value == "":
                continue
            if _path(operation) is None and isinstance(value, dict):
                trimmed = {k: v for k, v in value.items() if v is not None and v != ""}
                if not trimmed:
                    continue
                operation = {**operation, "value": trimmed}
        kept.append(operation)
    return request if kept == operations else _with_operations(request, body, kept)


def _member_filter_remove_ignored(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    """remove with a members[value eq "..."] path is dropped; nobody leaves the group."""
    found = _operations(request)
    if found is None or "/Groups/" not in request.route:
        return request
    body, operations = found
    kept = [op for op in operations if not _MEMBER_FILTER.match(_path(op) or "")]
    return request if kept == operations else _with_operations(request, body, kept)


def _first_member_only(request: ProxyRequest) -> ProxyRequest:
    """An add of several members in one op keeps only the first one."""
    found = _operations(request)
    if found is None or "/Groups/" not in request.route:
        return request
    body, operations = found
    changed = []
    for operation in operations:
        if isinstance(operation, dict) and str(operation.get("op", "")).lower() == "add" \
                and (_path(operation) or "").lower() == "members" and isinstance(operation.get("value"), list):
            operation = {**operation, "value": operation["value"][:1]}
        changed.append(operation)
    return request.with_json({**body, "Operations": changed}) if changed != operations else request


def _external_id_dropped(request: ProxyRequest) -> ProxyRequest:
    """The server has no column for externalId: it is dropped from every created user."""
    if request.method not in ("POST", "PUT") or "/Users" not in request.route:
        return request
    body = request.json()
    if isinstance(body, dict) and "externalId" in body:
        return request.with_json({k: v for k, v in body.items() if k != "externalId"})
    return request


def _work_email_filter_unsupported(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    """A filter on emails[type eq "work"].value is refused as an invalid filter."""
    if _is_list(request, "Users") and any("emails[" in f.lower() for f in request.query.get("filter", [])):
        return scim_error(400, "Unsupported filter attribute 'emails[type eq \"work\"].value'", "invalidFilter")
    return request


# --------------------------------------------------------------------------- response rewrites


def _disabled_hidden_from_filter(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    """A filtered query leaves inactive users out, as if they were deleted."""
    if not (_is_list(request, "Users") and request.query.get("filter") and response.status == 200):
        return response
    listing = response.json()
    if not isinstance(listing, dict) or not isinstance(listing.get("Resources"), list):
        return response
    kept = [r for r in listing["Resources"] if not (isinstance(r, dict) and r.get("active") is False)]
    if len(kept) == len(listing["Resources"]):
        return response
    dropped = len(listing["Resources"]) - len(kept)
    return response.with_json({**listing, "Resources": kept, "itemsPerPage": len(kept),
                               "totalResults": max(0, int(listing.get("totalResults", 0)) - dropped)})


def _disabled_user_404(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    """GET of an inactive user answers 404: soft-deleted looks hard-deleted."""
    if request.method != "GET" or not _USER_BY_ID.search(request.route) or response.status != 200:
        return response
    user = response.json()
    if isinstance(user, dict) and user.get("active") is False:
        return scim_error(404, "User not found")
    return response


def _start_index_ignored(request: ProxyRequest) -> ProxyRequest:
    """startIndex is ignored: every page of /Users is the first one (and says startIndex 1)."""
    if not (_is_list(request, "Users") and "startIndex" in request.query):
        return request
    parts = urlsplit(request.path)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "startIndex"])
    return dataclasses.replace(request, headers=dict(request.headers), path=parts.path + ("?" + query if query else ""))


def _memberships_dropped_on_disable() -> Deviation:
    """Disabling a user removes it from its groups (read back without it until it is active)."""
    disabled: set[str] = set()

    def note(request: ProxyRequest) -> ProxyRequest:
        found = _operations(request)
        match = _USER_BY_ID.search(request.route)
        if found is not None and match:
            values = _active_values(found[1])
            if any(_is_false(v) for v in values):
                disabled.add(match.group(1))
            elif any(_is_true(v) for v in values):
                disabled.discard(match.group(1))
        return request

    def hide(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
        if request.method != "GET" or not _GROUP_BY_ID.search(request.route) or response.status != 200:
            return response
        group = response.json()
        if not isinstance(group, dict) or not isinstance(group.get("members"), list):
            return response
        kept = [m for m in group["members"] if not (isinstance(m, dict) and m.get("value") in disabled)]
        return response if len(kept) == len(group["members"]) else response.with_json({**group, "members": kept})

    return Deviation(
        name="memberships-dropped-on-disable",
        description="disabling a user removes it from its groups",
        source="entra-how-provisioning-works known limitations: Entra does not replay memberships on restore, "
               "so the target must keep the memberships of inactive users",
        rewrite_request=note,
        rewrite_response=hide,
    )


def _renamed(deviation: Deviation, name: str, source: str) -> Deviation:
    return dataclasses.replace(deviation, name=name, source=source)


ENTRA_DEVIATIONS: dict[str, Deviation] = {
    d.name: d
    for d in (
        Deviation(
            name="false-string-treated-as-true",
            description='PATCH active "False" (a string) is read as truthy: the user becomes active, not disabled',
            source='entra-scim-compliance: Entra sends {"op":"Replace","path":"active","value":"False"} '
                   '(entra-string-booleans); '
            "scim-for-keycloak-119, scim-patch-872",
            rewrite_request=_false_string_is_true,
        ),
        Deviation(
            name="string-boolean-rejected",
            description='PATCH active "False"/"True" (strings) is refused with 400 invalidValue',
            source="scimmy-51 and scimmy-86: typed validators refuse Entra's string booleans",
            rewrite_request=_string_boolean_rejected,
        ),
        _renamed(
            CATALOGUE["patch-capitalised-op-rejected"], "capitalised-op-rejected",
            'entra-scim-compliance / entra-scim-tutorial: Entra emits op "Add", "Replace", "Remove" '
            '(entra-capitalised-ops); langwatch-6972',
        ),
        Deviation(
            name="pathless-patch-ignored",
            description="PATCH ops without a path are dropped and the PATCH still answers success",
            source="entra-scim-compliance aadOptscim062020: several attributes go out as one path-less replace "
                   "(entra-pathless-dotted-replace); "
            "scim-for-keycloak-26, keycloak-scim-server-95",
            rewrite_request=_pathless_ignored,
        ),
        Deviation(
            name="work-email-filter-path-dropped",
            description='PATCH ops on emails[type eq "work"].value are dropped and the PATCH still answers success',
            source="entra-scim-compliance / entra-scim-tutorial multi-valued update (entra-value-filter-path); "
                   "ssoready-228, gravitee-4408",
            rewrite_request=_work_email_dropped,
        ),
        Deviation(
            name="enterprise-urn-path-rejected",
            description="PATCH paths and path-less keys qualified by the enterprise extension URN are refused (400)",
            source="entra-scim-compliance employeeNumber by URN (entra-extension-urn-path); scimmy-77, fusionauth-2667",
            rewrite_request=_enterprise_urn_rejected,
        ),
        Deviation(
            name="null-values-ignored",
            description='PATCH values null or "" are dropped: attributes are never cleared',
            source="Logic App SCIM_Null_Update_Test (mandatory); RFC 7643 §2.5 (null means unassigned)",
            rewrite_request=_nulls_ignored,
        ),
        _renamed(
            CATALOGUE["empty-filter-404"], "empty-filter-404",
            "entra-scim-tutorial Test Connection: a random GUID must give 200 and an empty ListResponse, 404 "
            "fails it (entra-test-connection-guid)",
        ),
        Deviation(
            name="work-email-filter-unsupported",
            description='filter emails[type eq "work"].value eq "..." is refused with 400 invalidFilter',
            source='entra-scim-tutorial: a user-uniqueness attribute must be filterable '
                   '(entra-filter-on-value-path); fusionauth-2456',
            rewrite_request=_work_email_filter_unsupported,
        ),
        Deviation(
            name="external-id-dropped",
            description="externalId is not stored: created users come back without it",
            source="entra-scim-tutorial 'Create User' (externalId = the Entra object's id)",
            rewrite_request=_external_id_dropped,
        ),
        Deviation(
            name="disabled-user-hidden-from-filter",
            description="filtered queries leave out inactive users",
            source="entra-scim-tutorial: 'the only time the user shouldn't be returned is when it's hard "
                   "deleted' (entra-how-provisioning-works)",
            rewrite_response=_disabled_hidden_from_filter,
        ),
        Deviation(
            name="disabled-user-404",
            description="GET of an inactive user answers 404",
            source="entra-scim-tutorial soft delete requirement; sourcegraph-49325 (the validator's GET after "
                   "active=false)",
            rewrite_response=_disabled_user_404,
        ),
        _memberships_dropped_on_disable(),
        Deviation(
            name="group-add-first-member-only",
            description="an add of several members in one PATCH keeps only the first",
            source="entra-scim-tutorial gallery checklist: several memberships in one PATCH; Logic App pass "
                   "rules; fleet-52600",
            rewrite_request=_first_member_only,
        ),
        Deviation(
            name="member-filter-remove-ignored",
            description='remove with path members[value eq "..."] is dropped: nobody leaves the group',
            source="entra-scim-compliance aadOptscim062020 member removal (member-remove-filter-path); agent-bom-3533",
            rewrite_request=_member_filter_remove_ignored,
        ),
        Deviation(
            name="start-index-ignored",
            description="GET /Users ignores startIndex: every page is the first page",
            source="Logic App SCIM_User_Pagination_Test: the returned startIndex must be page*5+1; RFC 7644 §3.4.2.4",
            rewrite_request=_start_index_ignored,
        ),
    )
}
