"""What a template may read of the built-ins: exactly what the runner puts in a scenario's scope."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from conformance.engine.fakedata import RunData
from conformance.engine.paths import shipped_dir
from conformance.engine.profiles import EMBEDDED_TARGET, load_idp_profiles
from conformance.engine.redact import Redactor
from conformance.engine.runner import Runner
from conformance.engine.scenario.builtins import builtin_misuse
from conformance.engine.scenario.model import BUILTIN_KEYS, BUILTIN_NAMES
from conformance.engine.templating import render


@pytest.mark.parametrize("text", [
    "${run_id}", "scimc-${run_id}-x", "${idp.id}", "${idp['name']}", "${target.base_url}", "${target.capabilities}",
    "${fake.user()}", "${fake.user('tricky').userName}", "${fake.group().displayName}", "${uuid()}",
    "${lower(run_id)}", "${user.anything}", "${idp.id.nested}",
])
def test_what_the_built_ins_offer_is_accepted(text: str):
    assert builtin_misuse(text, BUILTIN_KEYS) == []


@pytest.mark.parametrize(("text", "message"), [
    ("${fake}", "${fake}: fake is not a value, it is only called: fake.group() or fake.user()"),
    ("${fake.uuid}", "${fake.uuid}: fake is not a value"),
    ("${fake.user}", "${fake.user}: fake is not a value"),
    ("${fake.user.userName}", "${fake.user}: fake is not a value"),
    ("${lower(fake)}", "${fake}: fake is not a value"),
    ("${run_id.upper}", "${run_id.upper}: run_id has no 'upper' (it is text)"),
    ("${run_id[0]}", "${run_id[0]}: run_id has no 0 (it is text)"),
    ("x ${idp.nope} y", "${idp.nope}: idp has no 'nope' (keys: id, name)"),
    ("${target['token']}", "${target.token}: target has no 'token' (keys: base_url, capabilities)"),
])
def test_what_they_do_not_offer_is_named(text: str, message: str):
    assert [problem for problem in builtin_misuse(text, BUILTIN_KEYS) if problem.startswith(message)], \
        builtin_misuse(text, BUILTIN_KEYS)


def test_the_table_is_the_runners_scope():
    # The check is only true while BUILTIN_KEYS says what the runner really puts in each item's scope.
    profiles = shipped_dir("profiles")
    assert profiles is not None
    idp = load_idp_profiles(profiles)["okta"]
    target = EMBEDDED_TARGET.__class__(**{**EMBEDDED_TARGET.__dict__, "base_url": "http://127.0.0.1:1/scim/v2"})
    runner = Runner(SimpleNamespace(), target, idp, RunData("abc123"), Redactor())  # type: ignore[arg-type]
    scope: dict[str, Any] = runner._initial_scope(SimpleNamespace(vars={}, path="x", line=1))  # type: ignore[arg-type]
    assert set(scope) == BUILTIN_NAMES
    for name, keys in BUILTIN_KEYS.items():
        if keys is None:
            assert not isinstance(scope[name], str | dict | list)
        elif keys:
            assert set(scope[name]) == keys
            assert all(render("${" + f"{name}.{key}" + "}", scope) is not None for key in keys)
        else:
            assert isinstance(scope[name], str)
