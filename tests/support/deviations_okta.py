"""Deviations that break what Okta needs, each reproduced on top of the real embedded server.

Every entry names the Okta behaviour or RFC clause it breaks (okta-scim-20, okta-spec-test, okta-crud-test). The
fault tests (tests/faults/test_okta_detection.py) say which Okta scenario must catch each one.
"""

from __future__ import annotations

import dataclasses
import re
import time

from tests.support.deviating_proxy import (
    CATALOGUE,
    Deviation,
    ProxyRequest,
    ProxyResponse,
    call_upstream,
    is_request,
    patch_operations,
    scim_error,
)

__all__ = ["OKTA_DEVIATIONS"]

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"








# --- lists and paging ------------------------------------------------------------------------

def _counts_as_strings(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    body = response.json()
    if request.method == "GET" and isinstance(body, dict) and "totalResults" in body:
        for key in ("totalResults", "startIndex", "itemsPerPage"):
            if key in body:
                body[key] = str(body[key])
        return response.with_json(body)
    return response


def _start_index_zero_based(request: ProxyRequest) -> ProxyRequest:
    # The server reads startIndex as a 0-based offset: page 2 (startIndex=3) starts one too early.
    if request.method == "GET" and "startIndex" in request.query:
        path = re.sub(r"startIndex=(\d+)", lambda m: f"startIndex={max(int(m.group(1)) - 1, 1)}", request.path)
        return dataclasses.replace(request, path=path)
    return request


def _paging_ignored(request: ProxyRequest) -> ProxyRequest:
    if request.method == "GET" and "startIndex" in request.query:
        return dataclasses.replace(request, path=re.sub(r"startIndex=\d+", "startIndex=1", request.path))
    return request


def _filter_hides_inactive(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    body = response.json()
    if is_request(request, "GET", "Users", item=False) and request.query.get("filter") and isinstance(body, dict):
        kept = [r for r in body.get("Resources", []) if r.get("active") is not False]
        if len(kept) != len(body.get("Resources", [])):
            body.update(Resources=kept, totalResults=len(kept), itemsPerPage=len(kept))
            return response.with_json(body)
    return response


def _escaped_filter_rejected(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    if request.method == "GET" and any('\\"' in f for f in request.query.get("filter", [])):
        return scim_error(400, "Unable to parse filter", "invalidFilter")
    return request


# --- users -----------------------------------------------------------------------------------

def _create_echoes_password(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    sent, body = request.json(), response.json()
    if is_request(request, "POST", "Users", item=False) and response.status == 201 and isinstance(sent, dict):
        if isinstance(body, dict) and "password" in sent:
            return response.with_json({**body, "password": sent["password"]})
    return response


def _password_echoed(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    # A password change answered with the request echoed back, password included.
    body = request.json()
    if request.method in ("PATCH", "PUT") and "password" in request.body.decode("utf-8", "replace"):
        return ProxyResponse(200).with_json(body)
    return request


def _put_rejects_meta(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    body = request.json()
    if request.method == "PUT" and isinstance(body, dict) and "meta" in body:
        return scim_error(400, "Attribute 'meta' is readOnly", "mutability")
    return request


def _put_ignored(request: ProxyRequest) -> ProxyRequest:
    # 200 with the unchanged user: the PUT is turned into a GET of the same resource.
    if request.method == "PUT" and "/Users/" in request.route:
        return dataclasses.replace(request, method="GET", body=b"")
    return request


def _pathless_patch_ignored(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    if request.method == "PATCH" and any("path" not in op for op in patch_operations(request)):
        return ProxyResponse(204)
    return request


def _deactivate_deletes(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    text = request.body.decode("utf-8", "replace").replace(" ", "")
    if request.method in ("PATCH", "PUT") and "/Users/" in request.route and '"active":false' in text:
        call_upstream(request, "DELETE", request.route)
        return ProxyResponse(204)
    return request


def _patch_not_implemented(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    if request.method == "PATCH":
        return scim_error(501, "PATCH is not implemented")
    return request


def _error_without_detail(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    body = response.json()
    if response.status == 404 and isinstance(body, dict):
        return response.with_json({k: v for k, v in body.items() if k != "detail"})
    return response


def _duplicate_is_400(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    if response.status == 409:
        return scim_error(400, "User has already been taken", "invalidValue")
    return response


def _discovery_post_accepted(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    if request.method == "POST" and request.route.rstrip("/").split("/")[-1] in (
        "ServiceProviderConfig", "ResourceTypes", "Schemas"
    ):
        return ProxyResponse(200).with_json({"ok": True})
    return request


# --- groups ----------------------------------------------------------------------------------

def _member_remove_by_filter_ignored(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    operations = patch_operations(request)
    kept = [op for op in operations
            if not (str(op.get("op", "")).lower() == "remove" and str(op.get("path", "")).startswith("members["))]
    if request.method == "PATCH" and len(kept) != len(operations):
        return ProxyResponse(204) if not kept else request.with_json({**request.json(), "Operations": kept})
    return request


def _member_type_required(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    for op in patch_operations(request):
        value = op.get("value")
        if str(op.get("path", "")).lower() == "members" and isinstance(value, list):
            if any(isinstance(m, dict) and "type" not in m for m in value):
                return scim_error(400, "Member 'type' is required", "invalidValue")
    return request


def _empty_members_replace_rejected(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    for op in patch_operations(request):
        if str(op.get("op", "")).lower() == "replace" and op.get("path") == "members" and op.get("value") == []:
            return scim_error(400, "Attribute 'members' must not be empty", "invalidValue")
    return request


def _rename_drops_members(request: ProxyRequest) -> ProxyRequest:
    # A path-less replace of the group (Okta's rename) is applied as a whole-group replace.
    operations = patch_operations(request)
    if request.method == "PATCH" and "/Groups/" in request.route and any(
        "path" not in op and isinstance(op.get("value"), dict) for op in operations
    ):
        return request.with_json({**request.json(), "Operations": [
            {"op": "replace", "path": "members", "value": []},
            *[op for op in operations if "path" not in op],
        ]})
    return request


def _group_delete_ignored(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    if request.method == "DELETE" and "/Groups/" in request.route:
        return ProxyResponse(204)
    return request




def _members_read_modify_write(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    """Apply member adds as GET, compute, pause, PUT: two concurrent adds lose one (fleet-50724)."""
    operations = patch_operations(request)
    if not (request.method == "PATCH" and "/Groups/" in request.route and operations):
        return request
    if not all(str(op.get("op", "")).lower() == "add" and op.get("path") == "members" for op in operations):
        return request
    group = call_upstream(request, "GET", request.route).json()
    members = [m for m in group.get("members") or []]
    for op in operations:
        members += [m for m in op.get("value") or [] if isinstance(m, dict)]
    time.sleep(0.3)  # the window in which a concurrent PATCH reads the same stale list
    put = {k: v for k, v in group.items() if k != "meta"}
    put["members"] = members
    answer = call_upstream(request, "PUT", request.route, put)
    return ProxyResponse(answer.status_code).with_json(answer.json())


def _unknown_member_rejects_all(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    if not (request.method == "PATCH" and "/Groups/" in request.route):
        return request
    base = request.route.split("/Groups/")[0]
    for op in patch_operations(request):
        if op.get("path") == "members" and str(op.get("op", "")).lower() == "add":
            for member in op.get("value") or []:
                value = member.get("value") if isinstance(member, dict) else None
                if value and call_upstream(request, "GET", f"{base}/Users/{value}").status_code == 404:
                    return scim_error(400, f"Member {value} does not exist", "invalidValue")
    return request


def _capability_claimed(name: str, description: str, source: str) -> Deviation:
    """A target that claims a behaviour in its profile and does not have it (no rewrite needed:
    the embedded server lacks it; the fault test gives the run a profile that claims it)."""
    return Deviation(name=name, description=description, source=source)


OKTA_DEVIATIONS: dict[str, Deviation] = {
    d.name: d
    for d in (
        Deviation("list-counts-as-strings", "totalResults, startIndex and itemsPerPage come back as strings",
                  "okta-scim-20: Okta needs JSON integers; RFC 7644 §3.4.2 (integers)",
                  rewrite_response=_counts_as_strings),
        Deviation("paging-zero-based", "startIndex is read as a 0-based offset, so pages overlap by one",
                  "RFC 7644 §3.4.2.4 (startIndex is 1-based); okta-scim-legacy-guide (Okta import pages)",
                  rewrite_request=_start_index_zero_based),
        Deviation("paging-ignored", "startIndex is ignored: every page is the first page",
                  "RFC 7644 §3.4.2.4; okta-scim-legacy-guide (Okta import reads until totalResults)",
                  rewrite_request=_paging_ignored),
        Deviation("filter-escaped-quote-rejected", 'a filter value with an escaped quote (\\") is rejected with 400',
                  "RFC 7644 §3.4.2.2 (filter values are JSON strings, escapes included); Okta lookup "
                  "(okta-lookup-paging)",
                  rewrite_request=_escaped_filter_rejected),
        Deviation("filter-hides-inactive-users", "a userName filter does not return deactivated users",
                  "okta-crud-test: a lookup that misses a deactivated user makes Okta create a duplicate",
                  rewrite_response=_filter_hides_inactive),
        Deviation("create-echoes-password", "POST /Users answers with the password it was sent",
                  "RFC 7643 §4.1.1 (password is returned never)", rewrite_response=_create_echoes_password),
        Deviation("password-change-echoed", "a PATCH/PUT carrying a password is answered with it echoed",
                  "RFC 7643 §4.1.1 (password is returned never); okta-scim-20",
                  rewrite_request=_password_echoed),
        Deviation("put-rejects-meta", "a PUT that carries meta (as Okta echoes it) is rejected with 400",
                  "okta-scim-20, okta-put-echoes-meta: Okta's PUT echoes meta; do not reject it",
                  rewrite_request=_put_rejects_meta),
        Deviation("put-ignored", "PUT /Users/{id} answers 200 with the unchanged user",
                  "RFC 7644 §3.5.1 (PUT replaces); okta-scim-20 (Okta profile updates)",
                  rewrite_request=_put_ignored),
        Deviation("pathless-patch-ignored", "a PATCH operation without a path is answered 204 and not applied",
                  "RFC 7644 §3.5.2.3; okta-pathless-replace (Okta's path-less replace; sentry-27199, "
                  "keycloak-scim-server-95)",
                  rewrite_request=_pathless_patch_ignored),
        Deviation("deactivate-deletes-user", "setting active false deletes the user",
                  "okta-scim-20, okta-crud-test step 8/13: a deactivated user must stay readable",
                  rewrite_request=_deactivate_deletes),
        Deviation("patch-not-implemented", "every PATCH answers 501",
                  "okta-scim-20: Okta does not fall back to PUT after a 501",
                  rewrite_request=_patch_not_implemented),
        Deviation("error-404-without-detail", "a 404 SCIM Error carries no detail",
                  "okta-spec-test step 10 (detail present); RFC 7644 §3.12", rewrite_response=_error_without_detail),
        Deviation("duplicate-answers-400", "a duplicate create answers 400 instead of 409 uniqueness",
                  "RFC 7644 §3.3/§3.12 (409 uniqueness); okta-scim-20 (400 is permanent for Okta)",
                  rewrite_response=_duplicate_is_400),
        Deviation("discovery-post-accepted", "POST to /ServiceProviderConfig, /ResourceTypes, /Schemas answers 200",
                  "okta-spec-test steps 2, 4, 6 (405); RFC 7644 §4", rewrite_request=_discovery_post_accepted),
        Deviation("member-remove-by-filter-ignored",
                  'PATCH remove with path members[value eq "..."] is answered 204 and not applied',
                  "member-remove-filter-path (Okta removes members by filter path); RFC 7644 §3.5.2.2; agent-bom-3533",
                  rewrite_request=_member_remove_by_filter_ignored),
        Deviation("member-type-required", "member objects without a type are rejected with 400",
                  "okta-members-without-type, scim-sdk-419 (Okta's members carry value and display only)",
                  rewrite_request=_member_type_required),
        Deviation("empty-members-replace-rejected", "replace members with [] is rejected with 400",
                  "okta-members-full-replace, scim-sdk-757 (Okta pushes an empty group as value [])",
                  rewrite_request=_empty_members_replace_rejected),
        Deviation("rename-drops-members", "a path-less group replace (Okta's rename) empties the members",
                  "okta-rename-with-id (Okta re-sends the rename with every membership update); teleport-67372",
                  rewrite_request=_rename_drops_members),
        Deviation("group-delete-ignored", "DELETE /Groups/{id} answers 204 and leaves the group",
                  "RFC 7644 §3.6; okta-scim-20 (Okta deletes pushed groups)",
                  rewrite_request=_group_delete_ignored),
        Deviation("members-lost-update", "member adds are applied as an unlocked read-modify-write",
                  "fleet-50724; group-patch-repeats (concurrent Okta membership PATCHes)",
                  rewrite_request=_members_read_modify_write),
        Deviation("unknown-member-rejects-add", "an add naming one unknown member is rejected whole with 400",
                  "fleet-52600; okta-scim-20 (400 is permanent for Okta: the other members are lost)",
                  rewrite_request=_unknown_member_rejects_all),
        _capability_claimed("email-uniqueness-not-enforced",
                            "the target profile says emails are unique, yet a second account with the same "
                            "email is created", "okta-scim-20 (duplicates: 409); RFC 7644 §3.3"),
        _capability_claimed("email-link-not-done",
                            "the target profile says existing users are linked by email, yet a second "
                            "account is created", "Grafana links existing users by email (brief); okta-scim-11"),
        _capability_claimed("put-clears-omitted-active",
                            "a PUT without active clears it (scim2-server 0.8.3 itself)",
                            "okta-scim-20 (Delinea, secondary); RFC 7644 §3.5.1"),
        CATALOGUE["create-returns-200"],
        CATALOGUE["filter-case-sensitive-username"],
        CATALOGUE["deactivate-ignored"],
        CATALOGUE["error-not-scim"],
    )
}
