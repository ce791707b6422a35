"""The one removal rule (`conformance.engine.removal`) and the load replay's requests built from it."""

from __future__ import annotations

import json

import pytest

from conformance.engine.fakedata import RunData
from conformance.engine.paths import find_profiles_dir
from conformance.engine.profiles import TargetProfile, load_idp_profiles
from conformance.engine.removal import ALREADY_INACTIVE, DEACTIVATE, DELETE, LEAVE, is_gone, plan_removal
from conformance.loadtest.templates import CycleTemplates

EVERYTHING = frozenset({"delete_users", "delete_groups", "patch"})


@pytest.mark.parametrize(("collection", "capabilities", "active", "action"), [
    ("/Users", EVERYTHING, None, DELETE),
    ("/Groups", EVERYTHING, None, DELETE),
    ("https://scim.example.com/v2/Users", {"patch"}, None, DEACTIVATE),
    ("/Users", {"patch"}, True, DEACTIVATE),
    ("/Users", {"patch"}, False, ALREADY_INACTIVE),
    ("/Users", set(), None, LEAVE),
    ("/Groups", {"delete_users", "patch"}, None, LEAVE),
    ("/Schemas", set(), None, DELETE),  # anything else the run created is deleted
])
def test_the_rule_picks_delete_deactivate_or_leave_from_the_target_profile(
        collection: str, capabilities: set[str], active: bool | None, action: str):
    assert plan_removal(collection, capabilities, active=active).action == action


def test_a_deactivation_is_a_patch_of_active_false_and_a_delete_has_no_body():
    deactivate = plan_removal("/Users", {"patch"})
    assert (deactivate.method, deactivate.done) == ("PATCH", "deactivated")
    assert deactivate.body == {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                               "Operations": [{"op": "replace", "path": "active", "value": False}]}
    delete = plan_removal("/Users", EVERYTHING)
    assert (delete.method, delete.body, delete.done) == ("DELETE", None, "deleted")


def test_a_resource_left_in_place_says_why():
    assert plan_removal("/Users", set()).reason == "target neither deletes users nor supports PATCH"
    assert plan_removal("/Groups", set()).reason == "the target profile says groups cannot be deleted"


@pytest.mark.parametrize(("status", "gone"), [(200, True), (204, True), (404, True), (400, False), (409, False),
                                              (500, False), (302, False)])
def test_a_2xx_or_a_404_means_the_resource_is_gone(status: int, gone: bool):
    assert is_gone(status) is gone


def _templates(idp: str, capabilities: frozenset[str]) -> CycleTemplates:
    target = TargetProfile("t", "http://127.0.0.1:9/v2", capabilities=capabilities)
    return CycleTemplates(load_idp_profiles(find_profiles_dir())[idp], target, "token", RunData("r1"))


def test_the_load_removes_with_the_profiles_templates_by_the_same_rule():
    plan, request = _templates("entra", EVERYTHING).removal("/Users", "u1")
    assert (plan.action, request.method, request.url) == (DELETE, "DELETE", "http://127.0.0.1:9/v2/Users/u1")
    plan, request = _templates("entra", frozenset({"patch", "delete_groups"})).removal("/Users", "u1")
    assert plan.action == DEACTIVATE and request.method == "PATCH"
    assert _templates("entra", frozenset({"patch"})).removal("/Groups", "g1") is None


def test_without_a_removal_template_the_load_sends_the_rules_request():
    plan, request = _templates("rfc", frozenset({"patch"})).removal("/Users", "u1")
    assert (plan.action, request.method, request.url) == (DEACTIVATE, "PATCH", "http://127.0.0.1:9/v2/Users/u1")
    assert json.loads(request.body or b"") == plan.body
    assert request.headers["Authorization"] == "Bearer token"
