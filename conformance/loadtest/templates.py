"""The provisioning cycle's requests, rendered from an IdP profile's templates, and how its answers read.

`CycleTemplates` renders each request of the cycle the way the IdP profile says
(`profiles/idp/<id>.yaml`, the same templates the scenarios use). Its templates are compiled once
(`conformance.engine.templating.CompiledTemplate`): the load renders thousands of requests per
second from a handful of templates. The load command (`conformance.loadtest.cycle`) and the
Locust file (`conformance/loadtest/locustfile.py`) share it.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conformance.engine.errors import HarnessError
from conformance.engine.fakedata import RunData
from conformance.engine.profiles import IdpProfile, TargetProfile
from conformance.engine.removal import DELETE, RemovalPlan, plan_removal
from conformance.engine.resource_ids import id_problem, resource_path
from conformance.engine.templating import CompiledTemplate, TemplateError
from conformance.engine.transport import join_url
from conformance.loadtest.client import Answer

__all__ = [
    "STEP_NAMES",
    "CycleTemplates",
    "Rendered",
    "created_id",
    "found_existing",
    "lean_run_data",
]

# The names each step of the cycle puts in scope for its template, besides run_id, fake, idp and
# target. A template that needs another name is left out of the cycle (create_user: refused).
_USER = frozenset({"user"})
_GROUP = frozenset({"group", "group_name", "member_ids", "changed_ids"})  # no members yet at create
_UPDATE = frozenset({"user", "user_id", "current", "changes", "update", "attribute", "value"})
STEP_NAMES: dict[str, frozenset[str]] = {
    "lookup_user": _USER, "create_user": _USER, "lookup_group": _GROUP, "create_group": _GROUP,
    "add_members": _GROUP | {"group_id"}, "update_user": _UPDATE, "replace_attribute": _UPDATE,
    "delete_user": frozenset({"user_id"}), "deactivate_user": frozenset({"user_id"}),
    "delete_group": frozenset({"group_id"}),
}




@dataclass(frozen=True)
class Rendered:
    """A request ready to send: the target's URL, the IdP's headers with the token, the JSON body."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


class CycleTemplates:
    """Renders the IdP profile's templates for the provisioning cycle; raises HarnessError up front
    when the profile lacks a template the cycle needs or needs a name the cycle cannot give."""

    def __init__(self, idp: IdpProfile, target: TargetProfile, token: str | None, data: RunData) -> None:
        self.idp = idp
        self.target = target
        self.token = token
        self.data = data
        self.base_scope = {
            "run_id": data.run_id, "fake": data, "idp": {"id": idp.id, "name": idp.name},
            "target": {"base_url": target.base_url, "capabilities": sorted(target.capabilities)},
        }
        self.notes: list[str] = []  # templates left out of the cycle, and why
        self._usable("create_user", required=True)
        self.lookup_user = self._usable("lookup_user")
        self.lookup_group = self._usable("lookup_group")
        self.create_group = self._usable("create_group")
        self.add_members = self._usable("add_members")
        self.update = self._usable("update_user") or self._usable("replace_attribute")
        # Removal falls back to a plain DELETE (or PATCH active=false) when the template cannot be used.
        self.delete_user = self._usable("delete_user", note=False)
        self.delete_group = self._usable("delete_group", note=False)
        self.deactivate_user = self._usable("deactivate_user", note=False)
        # Okta's update is a PUT of the whole user: it needs the user as created (`current`); other
        # profiles re-send the user's own attributes (`user`).
        needs = idp.request_names.get(self.update, set()) if self.update else set()
        self.keeps_current = "current" in needs
        self.keeps_user = "user" in needs
        self._compiled = {
            name: (CompiledTemplate(r.method), CompiledTemplate(r.path),
                   CompiledTemplate(r.query) if r.query else None,
                   CompiledTemplate(r.headers) if r.headers else None,
                   CompiledTemplate(r.body) if r.has_body else None)
            for name, r in idp.requests.items()
        }
        self._updates = itertools.count(1)

    def _usable(self, name: str, *, required: bool = False, note: bool = True) -> str | None:
        """`name` when the profile has that template and the cycle can fill it in, else None."""
        if name not in self.idp.requests:
            if required:
                raise HarnessError(f"IdP profile {self.idp.id!r} has no {name!r} request template: "
                                   "the load replay needs it")
            return None
        missing = self.idp.request_names.get(name, set()) - STEP_NAMES[name] - set(self.base_scope)
        if missing:
            reason = (f"template {name!r} of IdP profile {self.idp.id!r} needs {', '.join(sorted(missing))}, "
                      "which the load replay does not have at that step")
            if required:
                raise HarnessError(reason)
            if note:
                self.notes.append(f"{reason}: left out")
            return None
        return name

    def render(self, name: str, scope: Mapping[str, Any]) -> Rendered:
        request = self.idp.requests[name]
        c_method, c_path, c_query, c_headers, c_body = self._compiled[name]
        full = {**self.base_scope, **scope}
        try:
            method = str(c_method.render(full)).upper()
            path = str(c_path.render(full))
            query = c_query.render(full) if c_query is not None else None
            headers: dict[str, str] = {**self.idp.headers}
            if request.has_body:
                headers.update(self.idp.body_headers)
            if c_headers is not None:
                headers.update(c_headers.render(full))
            body = (json.dumps(c_body.render(full), ensure_ascii=False).encode("utf-8")
                    if c_body is not None else None)
        except TemplateError as exc:
            raise HarnessError(f"{self.idp.request_origins.get(name, name)}: {exc}") from None
        return Rendered(method, join_url(self.target.base_url or "", path, query),
                        self._with_auth({k: v for k, v in headers.items() if v is not None}, request.auth), body)

    def raw(self, method: str, path: str, body: Any = None) -> Rendered:
        """A request the profile has no template for (cleanup): the IdP's headers, a JSON body."""
        headers = {**self.idp.headers, **(self.idp.body_headers if body is not None else {})}
        content = json.dumps(body).encode("utf-8") if body is not None else None
        return Rendered(method, join_url(self.target.base_url or "", path), self._with_auth(headers, "default"),
                        content)

    def _with_auth(self, headers: dict[str, str], mode: str) -> dict[str, str]:
        if mode == "default" and self.target.auth_type != "none" and self.token:
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    # --- the cycle's requests, by step ---

    def user_scope(self) -> dict[str, Any]:
        return {"user": self.data.user()}

    def group_scope(self) -> dict[str, Any]:
        group = self.data.group()
        return {"group": group, "group_name": group["displayName"], "member_ids": [], "changed_ids": []}

    def members_scope(self, group: Mapping[str, Any], group_id: str, member_ids: list[str]) -> dict[str, Any]:
        return {"group": group, "group_name": group.get("displayName"), "group_id": group_id,
                "member_ids": member_ids, "changed_ids": member_ids}

    def update_scope(self, user_id: str, current: Any, user: Any = None) -> dict[str, Any]:
        """A profile change (new names, work email, employee number, department): made up here
        rather than by Faker, which would cost more than sending the request."""
        n = next(self._updates)
        tag = f"{self.data.run_id}-u{n}"
        given, family = "Updated", f"User{n}"
        display = f"{given} {family} ({tag})"
        changes = {"displayName": display, "name": {"givenName": given, "familyName": family}}
        update = {"displayName": display, "workEmail": f"updated-{tag}@{self.data.email_domain}",
                  "givenName": given, "familyName": family, "externalId": str(uuid.uuid4()),
                  "employeeNumber": str(100000 + n % 900000), "department": "Load replay"}
        return {"user_id": user_id, "current": current if isinstance(current, dict) else {}, "changes": changes,
                "update": update, "attribute": "displayName", "value": display,
                "user": {**user, "displayName": display} if isinstance(user, dict) else {}}

    def removal(self, collection: str, resource_id: str) -> tuple[RemovalPlan, Rendered] | None:
        """How to remove one created resource (`conformance.engine.removal`), sent with the profile's
        template when it has a usable one; None: the target profile says to leave it."""
        plan = plan_removal(collection, self.target.capabilities)
        if not plan.sends:
            return None
        if collection == "/Groups":
            template, scope = self.delete_group, {"group_id": resource_id}
        else:
            template = self.delete_user if plan.action == DELETE else self.deactivate_user
            scope = {"user_id": resource_id}
        if template:
            return plan, self.render(template, scope)
        return plan, self.raw(plan.method, resource_path(collection, resource_id), plan.body)


def lean_run_data(run_id: str, email_domain: str, worker: str = "") -> RunData:
    """RunData for the load (names carry the run id, as `cleanup --run-id` expects)."""
    return RunData(run_id, email_domain=email_domain, worker=worker)


def created_id(answer: Answer) -> tuple[str | None, Any]:
    """The id a 2xx answer to a create names, and the answer's JSON."""
    if not 200 <= answer.status < 300:
        return None, None
    body = answer.json()
    resource_id = body.get("id") if isinstance(body, dict) else None
    # An id that is not one URL path segment (`../Groups/x`) is never used: nothing is sent to it.
    usable = isinstance(resource_id, str) and id_problem(resource_id) is None
    return (resource_id if usable else None), body


def found_existing(answer: Answer) -> bool:
    """A lookup that found the resource already there (the IdP then matches instead of creating)."""
    if answer.status != 200:
        return False
    body = answer.json()
    return isinstance(body, dict) and isinstance(body.get("totalResults"), int) and body["totalResults"] > 0

