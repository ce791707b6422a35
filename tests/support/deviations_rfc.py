"""Deviations from RFC 7643/7644, each reproduced on top of the real embedded server.

Every entry names the RFC clause it breaks. The fault tests (tests/faults/test_rfc_detection.py)
say which scenario of scenarios/rfc/ must catch each one, at which step, with which words.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from tests.support.deviating_proxy import (
    Deviation,
    ProxyRequest,
    ProxyResponse,
    call_upstream,
    patch_operations,
    scim_error,
)

__all__ = ["RFC_DEVIATIONS"]

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"


# --- helpers ---------------------------------------------------------------------------------

def _last(request: ProxyRequest) -> str:
    return request.route.rstrip("/").split("/")[-1]


def _is_item(request: ProxyRequest, collection: str) -> bool:
    parts = request.route.rstrip("/").split("/")
    return len(parts) >= 2 and parts[-2] == collection




def _with_query(request: ProxyRequest, **changes: str | None) -> ProxyRequest:
    """The request with query parameters replaced (None removes one)."""
    parts = urlsplit(request.path)
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in changes]
    params += [(k, v) for k, v in changes.items() if v is not None]
    query = urlencode(params, quote_via=quote, safe="")
    return dataclasses.replace(request, path=parts.path + (f"?{query}" if query else ""))


def _filter(request: ProxyRequest) -> str | None:
    values = request.query.get("filter")
    return values[0] if values else None




# --- discovery -------------------------------------------------------------------------------

def _spc_patch_unsupported(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    body = response.json()
    if _last(request) == "ServiceProviderConfig" and isinstance(body, dict):
        return response.with_json({**body, "patch": {"supported": False}})
    return response


def _spc_without_sort_and_etag(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    body = response.json()
    if _last(request) == "ServiceProviderConfig" and isinstance(body, dict):
        return response.with_json({k: v for k, v in body.items() if k not in ("sort", "etag")})
    return response


def _resource_types_without_group(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    body = response.json()
    if _last(request) == "ResourceTypes" and isinstance(body, dict) and isinstance(body.get("Resources"), list):
        kept = [r for r in body["Resources"] if not (isinstance(r, dict) and r.get("name") == "Group")]
        return response.with_json({**body, "Resources": kept, "totalResults": len(kept), "itemsPerPage": len(kept)})
    return response


def _schema_username_case_exact(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    body = response.json()
    if request.method == "GET" and _last(request) == USER_URN and isinstance(body, dict):
        for attribute in body.get("attributes") or []:
            if isinstance(attribute, dict) and attribute.get("name") == "userName":
                attribute["caseExact"] = True
        return response.with_json(body)
    return response


# --- users: lifecycle, PUT, meta, ETags, media type ------------------------------------------

def _user_delete_ignored(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    if request.method == "DELETE" and _is_item(request, "Users") and "if-match" not in request.headers:
        return ProxyResponse(204)
    return request


def _put_applies_read_only_meta(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    sent, body = request.json(), response.json()
    if request.method == "PUT" and response.status == 200 and isinstance(sent, dict) and isinstance(body, dict):
        meta = sent.get("meta")
        if isinstance(meta, dict) and "created" in meta and isinstance(body.get("meta"), dict):
            return response.with_json({**body, "meta": {**body["meta"], "created": meta["created"]}})
    return response


def _created_follows_last_modified(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    body = response.json()
    if request.method == "GET" and isinstance(body, dict) and isinstance(body.get("meta"), dict):
        meta = body["meta"]
        if "lastModified" in meta:
            return response.with_json({**body, "meta": {**meta, "created": meta["lastModified"]}})
    return response


def _if_match_ignored(request: ProxyRequest) -> ProxyRequest:
    if "if-match" in request.headers:
        headers = {k: v for k, v in request.headers.items() if k != "if-match"}
        return dataclasses.replace(request, headers=headers)
    return request


def _meta_version_differs(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    body = response.json()
    if request.method == "GET" and isinstance(body, dict) and isinstance(body.get("meta"), dict):
        if "version" in body["meta"]:
            return response.with_json({**body, "meta": {**body["meta"], "version": 'W/"scimc-other"'}})
    return response


def _plain_json_content_type(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    if response.headers.get("content-type", "").startswith("application/scim+json"):
        return dataclasses.replace(response, headers={**response.headers, "content-type": "application/json"})
    return response


# --- queries: attributes, paging, sorting, filters -------------------------------------------

def _attributes_ignored(request: ProxyRequest) -> ProxyRequest:
    if request.method == "GET" and ("attributes" in request.query or "excludedAttributes" in request.query):
        return _with_query(request, attributes=None, excludedAttributes=None)
    return request


def _count_zero_means_all(request: ProxyRequest) -> ProxyRequest:
    if request.method == "GET" and request.query.get("count") == ["0"]:
        return _with_query(request, count=None)
    return request


def _sort_order_ignored(request: ProxyRequest) -> ProxyRequest:
    if request.method == "GET" and "sortOrder" in request.query:
        return _with_query(request, sortOrder=None)
    return request


def _ne_read_as_eq(request: ProxyRequest) -> ProxyRequest:
    expression = _filter(request)
    if request.method == "GET" and expression and re.search(r"\sne\s", expression):
        return _with_query(request, filter=re.sub(r"\sne\s", " eq ", expression))
    return request


_OR_AND = re.compile(r"^(?P<a>[^()]+?) or (?P<b>[^()]+?) and (?P<c>[^()]+)$")


def _or_before_and(request: ProxyRequest) -> ProxyRequest:
    # "A or B and C" evaluated left to right, as "(A or B) and C".
    expression = _filter(request)
    match = _OR_AND.match(expression or "") if request.method == "GET" else None
    if match:
        return _with_query(request, filter=f"({match['a']} or {match['b']}) and {match['c']}")
    return request


_CANONICAL = ("title", "displayName", "userName", "externalId", "nickName", "active", "emails", "name", "meta", "id")
_ATTRIBUTE = re.compile(r"(?<![\w.:\"])([A-Za-z][A-Za-z0-9]*)(?=\s+(?i:eq|ne|co|sw|ew|gt|ge|lt|le|pr)\b)")


def _attribute_names_case_sensitive(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    expression = _filter(request)
    if request.method == "GET" and expression:
        for name in _ATTRIBUTE.findall(expression):
            canonical = next((c for c in _CANONICAL if c.lower() == name.lower()), None)
            if canonical is not None and canonical != name:
                return scim_error(400, f"Unknown attribute {name!r}", "invalidFilter")
    return request


_EXTERNAL_ID_EQ = re.compile(r'externalId eq "([^"]*)"')


def _external_id_case_insensitive(request: ProxyRequest) -> ProxyRequest:
    expression = _filter(request)
    if request.method == "GET" and expression and _EXTERNAL_ID_EQ.search(expression):
        return _with_query(request, filter=_EXTERNAL_ID_EQ.sub(lambda m: f'externalId eq "{m[1].lower()}"', expression))
    return request


def _invalid_filter_crashes(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    body = response.json()
    if response.status == 400 and isinstance(body, dict) and body.get("scimType") == "invalidFilter":
        return ProxyResponse(500).with_body(b"Internal Server Error: FilterParseError", "text/plain")
    return response


def _search_post_unsupported(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    if request.method == "POST" and _last(request) == ".search":
        return scim_error(404, "No such endpoint")
    return request


# --- PATCH ------------------------------------------------------------------------------------

def _pathless_replace_drops_sub_attributes(request: ProxyRequest) -> ProxyRequest:
    # A path-less replace of a complex attribute replaces it whole: unnamed sub-attributes vanish.
    operations = patch_operations(request)
    if request.method != "PATCH" or not operations:
        return request
    rewritten: list[dict[str, Any]] = []
    for op in operations:
        value = op.get("value")
        if str(op.get("op", "")).lower() == "replace" and "path" not in op and isinstance(value, dict):
            rewritten += [{"op": "remove", "path": k} for k, v in value.items() if isinstance(v, dict)]
        rewritten.append(op)
    if rewritten == operations:
        return request
    return request.with_json({**request.json(), "Operations": rewritten})


def _filtered_remove_removes_all(request: ProxyRequest) -> ProxyRequest:
    operations = patch_operations(request)
    rewritten = [
        {**op, "path": str(op["path"]).split("[", 1)[0]}
        if str(op.get("op", "")).lower() == "remove" and "[" in str(op.get("path", "")) else op
        for op in operations
    ]
    if request.method == "PATCH" and rewritten != operations:
        return request.with_json({**request.json(), "Operations": rewritten})
    return request


def _patch_not_atomic(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    # Operations applied one request at a time: those before a failing one stay applied.
    operations = patch_operations(request)
    if request.method != "PATCH" or len(operations) < 2:
        return request
    for op in operations:
        answer = call_upstream(request, "PATCH", request.route, {**request.json(), "Operations": [op]})
        if answer.status_code >= 400:
            return ProxyResponse(answer.status_code).with_json(answer.json())
    return ProxyResponse(204)


_READ_ONLY_PATHS = ("id", "meta", "groups")


def _read_only_patch_accepted(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    operations = patch_operations(request)
    if request.method == "PATCH" and any(
        str(op.get("path", "")).split(".")[0] in _READ_ONLY_PATHS for op in operations
    ):
        return ProxyResponse(204)  # answered as a success, and silently not applied
    return request


def _pathless_remove_accepted(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    if request.method == "PATCH" and any(
        str(op.get("op", "")).lower() == "remove" and "path" not in op for op in patch_operations(request)
    ):
        return ProxyResponse(204)
    return request


# --- errors -----------------------------------------------------------------------------------

def _username_case_sensitive_uniqueness(request: ProxyRequest) -> ProxyRequest:
    # A userName that differs only in case is not seen as a duplicate: here it is stored apart.
    body = request.json()
    if request.method == "POST" and _last(request) == "Users" and isinstance(body, dict):
        name = body.get("userName")
        if isinstance(name, str) and name != name.lower():
            return request.with_json({**body, "userName": name + ".case-variant"})
    return request


def _error_status_number(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    body = response.json()
    if response.status >= 400 and isinstance(body, dict) and isinstance(body.get("status"), str):
        return response.with_json({**body, "status": int(body["status"])})
    return response


def _bulk_id_not_resolved(request: ProxyRequest) -> ProxyRequest:
    body = request.json()
    if request.method == "POST" and _last(request) == "Bulk" and isinstance(body, dict):
        text = request.body.decode("utf-8").replace('"bulkId:', '"unresolved-bulkId-')
        return dataclasses.replace(request, headers=dict(request.headers), body=text.encode("utf-8"))
    return request


def _group_put_keeps_members(request: ProxyRequest) -> ProxyRequest:
    body = request.json()
    if request.method == "PUT" and _is_item(request, "Groups") and isinstance(body, dict) and body.get("members") == []:
        current = call_upstream(request, "GET", request.route).json()
        return request.with_json({**body, "members": current.get("members") or []})
    return request


def _primary_not_normalised(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    # Every email that was primary stays primary: the server does not demote the others.
    body = response.json()
    if request.method == "GET" and _is_item(request, "Users") and isinstance(body, dict):
        emails = body.get("emails")
        if isinstance(emails, list) and any(isinstance(e, dict) and e.get("primary") is False for e in emails):
            fixed = [{**e, "primary": True} if isinstance(e, dict) and e.get("primary") is False else e for e in emails]
            return response.with_json({**body, "emails": fixed})
    return response


def _unauthorized_without_challenge(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    if response.status == 401:
        headers = {k: v for k, v in response.headers.items() if k != "www-authenticate"}
        return dataclasses.replace(response, headers=headers)
    return response


def _invalid_path_as_invalid_value(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    body = response.json()
    if isinstance(body, dict) and body.get("scimType") == "invalidPath":
        return response.with_json({**body, "scimType": "invalidValue"})
    return response


_ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _enterprise_extension_dropped(request: ProxyRequest) -> ProxyRequest:
    body = request.json()
    if request.method in ("POST", "PUT") and isinstance(body, dict) and _ENTERPRISE_URN in body:
        kept = {k: v for k, v in body.items() if k != _ENTERPRISE_URN}
        kept["schemas"] = [u for u in body.get("schemas") or [] if u != _ENTERPRISE_URN]
        return request.with_json(kept)
    return request


def _invalid_value_without_scim_type(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    body = response.json()
    if isinstance(body, dict) and body.get("scimType") == "invalidValue":
        return response.with_json({k: v for k, v in body.items() if k != "scimType"})
    return response


def _value_filter_unsupported(request: ProxyRequest) -> ProxyRequest | ProxyResponse:
    expression = _filter(request)
    if request.method == "GET" and expression and "[" in expression:
        return scim_error(400, "Unsupported filter", "invalidFilter")
    return request


def _capability_claimed(name: str, description: str, source: str) -> Deviation:
    """A target whose profile claims a behaviour it lacks (the embedded server lacks it; the fault
    test gives the run a profile that claims it): no rewrite needed."""
    return Deviation(name=name, description=description, source=source)


RFC_DEVIATIONS: dict[str, Deviation] = {
    d.name: d
    for d in (
        Deviation("spc-denies-patch", "/ServiceProviderConfig says patch.supported false although PATCH works",
                  "RFC 7643 §5 (supported says whether the operation is supported)",
                  rewrite_response=_spc_patch_unsupported),
        Deviation("spc-incomplete", "/ServiceProviderConfig leaves out the REQUIRED sort and etag",
                  "RFC 7643 §5 (patch, bulk, filter, changePassword, sort, etag are REQUIRED)",
                  rewrite_response=_spc_without_sort_and_etag),
        Deviation("resource-types-omit-group", "/ResourceTypes does not list Group although /Groups works",
                  "RFC 7644 §4 (/ResourceTypes lists the supported resource types); RFC 7643 §6",
                  rewrite_response=_resource_types_without_group),
        Deviation("schema-username-case-exact", "/Schemas describes userName as caseExact true",
                  "RFC 7643 §4.1.1 (userName is case insensitive), §8.7.1",
                  rewrite_response=_schema_username_case_exact),
        Deviation("user-delete-ignored", "DELETE /Users/{id} answers 204 and the user stays",
                  "RFC 7644 §3.6 (the deleted resource is not returned any more; 404)",
                  rewrite_request=_user_delete_ignored),
        Deviation("put-applies-read-only-meta", "a PUT that carries meta.created overwrites the creation time",
                  "RFC 7644 §3.5.1 (readOnly values SHALL be ignored); RFC 7643 §3.1",
                  rewrite_response=_put_applies_read_only_meta),
        Deviation("created-follows-last-modified", "meta.created changes whenever the resource changes",
                  "RFC 7643 §3.1 (created is when the resource was added)",
                  rewrite_response=_created_follows_last_modified),
        Deviation("if-match-ignored", "If-Match is ignored: a stale ETag does not stop a PUT or DELETE",
                  "RFC 7644 §3.14; RFC 7232 §3.1 (412 when If-Match does not match)",
                  rewrite_request=_if_match_ignored),
        Deviation("meta-version-differs-from-etag", "meta.version holds another value than the ETag header",
                  "RFC 7644 §3.14 (the ETag SHOULD be in meta.version); RFC 7643 §3.1",
                  rewrite_response=_meta_version_differs),
        Deviation("plain-json-content-type", "answers say Content-Type application/json",
                  "RFC 7644 §3.1, §8.1 (application/scim+json)",
                  rewrite_response=_plain_json_content_type),
        Deviation("attributes-ignored", "attributes and excludedAttributes are ignored: the full resource comes back",
                  "RFC 7644 §3.4.2.5, §3.9",
                  rewrite_request=_attributes_ignored),
        Deviation("count-zero-returns-all", "count=0 is read as no limit: every resource comes back",
                  "RFC 7644 §3.4.2.4 (count 0: no resources, only totalResults)",
                  rewrite_request=_count_zero_means_all),
        Deviation("sort-order-ignored", "sortOrder is ignored: descending sorts ascending",
                  "RFC 7644 §3.4.2.3 (sortOrder)",
                  rewrite_request=_sort_order_ignored),
        Deviation("filter-ne-as-eq", "the ne operator is read as eq",
                  "RFC 7644 §3.4.2.2 Table 3 (ne: not equal)",
                  rewrite_request=_ne_read_as_eq),
        Deviation("filter-or-before-and", "A or B and C is evaluated left to right, as (A or B) and C",
                  "RFC 7644 §3.4.2.2 (and takes precedence over or)",
                  rewrite_request=_or_before_and),
        Deviation("filter-attribute-names-case-sensitive", "a filter attribute name in other case (TITLE) is refused",
                  "RFC 7644 §3.4.2.2 (attribute names and operators are case insensitive)",
                  rewrite_request=_attribute_names_case_sensitive),
        Deviation("external-id-case-insensitive", "externalId eq compares without case",
                  "RFC 7643 §3.1 (externalId caseExact true); RFC 7644 §3.4.2.2",
                  rewrite_request=_external_id_case_insensitive),
        Deviation("invalid-filter-500", "a filter that does not parse crashes the server: 500 text/plain",
                  "RFC 7644 §3.12 (400 invalidFilter)",
                  rewrite_response=_invalid_filter_crashes),
        Deviation("search-post-unsupported", "POST /Users/.search answers 404",
                  "RFC 7644 §3.4.3 (queries with POST to /.search)",
                  rewrite_request=_search_post_unsupported),
        Deviation("pathless-replace-drops-sub-attributes",
                  "a path-less replace of name with only familyName also removes givenName",
                  "RFC 7644 §3.5.2.3 (sub-attributes not specified are left unchanged)",
                  rewrite_request=_pathless_replace_drops_sub_attributes),
        Deviation("filtered-remove-removes-all", 'remove emails[type eq "home"] removes every email',
                  "RFC 7644 §3.5.2.2 (only the values the filter selects)",
                  rewrite_request=_filtered_remove_removes_all),
        Deviation("patch-not-atomic", "the operations of a PATCH before a failing one stay applied",
                  "RFC 7644 §3.5.2 (the original resource MUST be restored)",
                  rewrite_request=_patch_not_atomic),
        Deviation("read-only-patch-accepted", "PATCH of id, meta or groups answers 204 (silently not applied)",
                  "RFC 7644 §3.5.2 and §3.12 (an operation incompatible with mutability: 400 mutability)",
                  rewrite_request=_read_only_patch_accepted),
        Deviation("pathless-remove-accepted", "PATCH remove without a path answers 204",
                  "RFC 7644 §3.5.2.2 (remove without path: 400 noTarget)",
                  rewrite_request=_pathless_remove_accepted),
        Deviation("username-uniqueness-case-sensitive", "a userName that differs only in case creates a second user",
                  "RFC 7643 §4.1.1 (userName unique, case insensitive); RFC 7644 §3.3 (409 uniqueness)",
                  rewrite_request=_username_case_sensitive_uniqueness),
        Deviation("error-status-number", 'SCIM Errors carry status as a number (404), not a string ("404")',
                  "RFC 7644 §3.12 (status: the HTTP status code as a JSON string)",
                  rewrite_response=_error_status_number),
        Deviation("bulk-id-not-resolved", 'a "bulkId:<id>" reference inside a bulk request is not resolved',
                  "RFC 7644 §3.7.2 (bulkId references are replaced by the created resource's id)",
                  rewrite_request=_bulk_id_not_resolved),
        Deviation("primary-not-normalised", "after a PATCH makes an email primary, the other emails stay primary",
                  "RFC 7644 §3.5.2 (the server SHALL set primary to false for the other values); RFC 7643 §2.4",
                  rewrite_response=_primary_not_normalised),
        Deviation("unauthorized-without-challenge", "a 401 carries no WWW-Authenticate header",
                  "RFC 6750 §3 (the resource server MUST include WWW-Authenticate); RFC 7644 §2",
                  rewrite_response=_unauthorized_without_challenge),
        Deviation("invalid-path-as-invalid-value", "a PATCH path that names no attribute is answered invalidValue",
                  "RFC 7644 §3.12 Table 9 (invalidPath: the path was invalid or malformed)",
                  rewrite_response=_invalid_path_as_invalid_value),
        _capability_claimed("too-many-not-refused",
                            "the target profile says over-broad filters are refused with 400 tooMany, yet userName pr "
                            "is answered", "RFC 7644 §3.12 Table 9 (tooMany)"),
        _capability_claimed("eq-only-not-enforced",
                            "the target profile says only eq is supported, yet sw and ne are answered instead of "
                            "400 invalidFilter", "RFC 7644 §3.12 Table 9 (invalidFilter: comparison not supported)"),
        _capability_claimed("etag-advertised-not-declared",
                            "the server advertises etag.supported true, the target profile does not declare etag",
                            "RFC 7643 §5 (supported says whether the operation is supported)"),
        Deviation("enterprise-extension-dropped",
                  "the enterprise extension sent on a create is dropped: neither its URN nor its attributes are kept",
                  "RFC 7643 §3.3 (extension attributes under the extension URN, listed in schemas), §4.3",
                  rewrite_request=_enterprise_extension_dropped),
        Deviation("invalid-value-without-scim-type", "400 errors for missing or mistyped values carry no scimType",
                  "RFC 7644 §3.12 Table 9 (invalidValue)",
                  rewrite_response=_invalid_value_without_scim_type),
        Deviation("value-filter-unsupported",
                  'a filter with a value filter (emails[type eq "work" and ...]) is refused',
                  "RFC 7644 §3.4.2.2 (valuePath filters)",
                  rewrite_request=_value_filter_unsupported),
        Deviation("group-put-keeps-members", "PUT /Groups/{id} with members [] keeps the old members",
                  "RFC 7644 §3.5.1 (values provided SHALL replace the existing ones)",
                  rewrite_request=_group_put_keeps_members),
    )
}
