"""The one rule for removing a resource the harness created: what to send, and which answers mean it is gone.

Every part of the harness that removes what it created follows it: the runner's cleanup after a
scenario, `scim-conformance cleanup --run-id`, the load replay and its Locust file. Each caller
keeps its own transport, headers and bookkeeping; only the decision lives here.

- A user is deleted (`DELETE`) when the target profile declares `delete_users`. Otherwise it is
  deactivated (`PATCH` of `active: false`), as an IdP does for an app that cannot delete users
  (e.g. Grafana), when the profile declares `patch`; a user already known to be inactive needs
  nothing; without `patch` it is left in place.
- A group is deleted when the profile declares `delete_groups`, else left in place.
- Anything else is deleted.
- A 2xx answer means removed; a 404 means already gone (the scenario, the server or a late
  request removed it first), which is just as good.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALREADY_INACTIVE",
    "DEACTIVATE",
    "DELETE",
    "LEAVE",
    "PATCH_OP",
    "RemovalPlan",
    "deactivation_body",
    "is_gone",
    "plan_removal",
]

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

DELETE = "delete"
DEACTIVATE = "deactivate"
LEAVE = "leave"  # the target profile allows no way to remove it
ALREADY_INACTIVE = "already inactive"  # a user to deactivate that is known to be inactive already

_DONE = {DELETE: "deleted", DEACTIVATE: "deactivated"}
_METHOD = {DELETE: "DELETE", DEACTIVATE: "PATCH"}


def deactivation_body() -> dict[str, Any]:
    """The PATCH body that deactivates a user (a new dict each time: callers may change theirs)."""
    return {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": False}]}


@dataclass(frozen=True)
class RemovalPlan:
    """How one resource is to be removed; `reason` says why a resource is left in place."""

    action: str  # DELETE, DEACTIVATE, LEAVE or ALREADY_INACTIVE
    reason: str = ""

    @property
    def sends(self) -> bool:
        """True when a request is to be sent (a delete or a deactivation)."""
        return self.action in _METHOD

    @property
    def method(self) -> str:
        """DELETE or PATCH; only for a plan that sends."""
        return _METHOD[self.action]

    @property
    def body(self) -> dict[str, Any] | None:
        """The deactivation's PATCH body; None for a DELETE."""
        return deactivation_body() if self.action == DEACTIVATE else None

    @property
    def done(self) -> str:
        """The past tense for reports: deleted, deactivated (or the action itself)."""
        return _DONE.get(self.action, self.action)


def plan_removal(collection: str, capabilities: Collection[str], *, active: bool | None = None) -> RemovalPlan:
    """How to remove a resource of `collection` (/Users, /Groups, or a URL ending in one) from a target
    with these profile capabilities; `active` is the user's state when the caller knows it."""
    kind = collection.rstrip("/").lower()
    if kind.endswith("/groups") and "delete_groups" not in capabilities:
        return RemovalPlan(LEAVE, "the target profile says groups cannot be deleted")
    if kind.endswith("/users") and "delete_users" not in capabilities:
        if "patch" not in capabilities:
            return RemovalPlan(LEAVE, "target neither deletes users nor supports PATCH")
        if active is False:
            return RemovalPlan(ALREADY_INACTIVE)
        return RemovalPlan(DEACTIVATE)
    return RemovalPlan(DELETE)


def is_gone(status: int) -> bool:
    """True for an answer to a removal that leaves the resource gone: a 2xx, or a 404 (gone already)."""
    return 200 <= status < 300 or status == 404
