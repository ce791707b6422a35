"""Every problem in a scenario, shared-steps or profile file is reported as `path:line: message`.

Each test writes one broken file into a throw-away tree shaped like a project
(`scenarios/`, `scenarios/shared/`, `profiles/idp/`) and asserts on the exact `path:line:`
prefix of the reported problem: the line is the one a user has to edit.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from conformance.engine.errors import ScenarioFileError
from conformance.engine.profiles import IdpProfile, load_idp_profiles, load_target_profile
from conformance.engine.scenario.loader import (
    SCENARIO_SUFFIX,
    load_scenario,
    load_shared_steps,
    shared_step_files,
)

REPO = Path(__file__).resolve().parents[2]


# --- helpers -------------------------------------------------------------------------------

def write(path: Path, text: str) -> Path:
    """Write `text` (dedented, leading newline dropped) so line 1 is its first line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def messages(exc: pytest.ExceptionInfo[ScenarioFileError]) -> list[str]:
    return [str(problem) for problem in exc.value.problems]


def reported_at(exc: pytest.ExceptionInfo[ScenarioFileError], path: Path, line: int) -> list[str]:
    """The reported problems that start with exactly `path:line: `."""
    prefix = f"{path}:{line}: "
    return [m for m in messages(exc) if m.startswith(prefix)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project tree: the shipped IdP profiles and shared steps, and an empty scenario folder."""
    (tmp_path / "profiles" / "idp").mkdir(parents=True)
    for profile in sorted((REPO / "profiles" / "idp").glob("*.yaml")):
        shutil.copy(profile, tmp_path / "profiles" / "idp" / profile.name)
    (tmp_path / "scenarios" / "shared").mkdir(parents=True)
    shutil.copy(REPO / "scenarios" / "shared" / "users.steps.yaml",
                tmp_path / "scenarios" / "shared" / "users.steps.yaml")
    return tmp_path


@pytest.fixture
def idps(project: Path) -> dict[str, IdpProfile]:
    return load_idp_profiles(project / "profiles")


def scenario_file(project: Path, text: str) -> Path:
    return write(project / "scenarios" / "okta" / f"broken{SCENARIO_SUFFIX}", text)


def load_broken(path: Path, idps: dict[str, IdpProfile]) -> pytest.ExceptionInfo[ScenarioFileError]:
    with pytest.raises(ScenarioFileError) as exc:
        load_scenario(path, idps)
    return exc


# --- YAML itself ---------------------------------------------------------------------------

def test_bad_yaml_syntax_is_reported_at_the_offending_line(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: a: b
            request: {method: GET, path: /Users}
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:5: invalid YAML")
    assert "mapping values are not allowed here" in problem


def test_bad_indentation_is_reported_at_the_offending_line(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: a
             request: {method: GET, path: /Users}
    """)
    exc = load_broken(path, idps)
    assert len(reported_at(exc, path, 6)) == 1
    assert "invalid YAML" in messages(exc)[0]


def test_an_empty_file_is_reported_at_line_1(project, idps):
    path = scenario_file(project, "")
    exc = load_broken(path, idps)
    assert messages(exc) == [f"{path}:1: file is empty"]


def test_a_duplicate_top_level_key_is_reported_at_its_second_occurrence(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        title: again
        steps:
          - name: a
            request: {method: GET, path: /Users}
    """)
    exc = load_broken(path, idps)
    assert messages(exc) == [f"{path}:4: duplicate key 'title'"]


def test_a_duplicate_key_inside_a_step_is_reported_at_its_second_occurrence(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: a
            request: {method: GET, path: /Users}
            expect: {status: 200}
            expect: {status: 201}
    """)
    exc = load_broken(path, idps)
    assert messages(exc) == [f"{path}:8: duplicate key 'expect'"]


# --- schema: keys and types ----------------------------------------------------------------

def test_an_unknown_top_level_key_is_reported_at_its_line_and_lists_the_allowed_keys(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        colour: red
        steps:
          - name: a
            request: {method: GET, path: /Users}
    """)
    exc = load_broken(path, idps)
    [problem] = reported_at(exc, path, 4)
    assert "unknown key 'colour'" in problem
    assert "allowed: description, id, idps" in problem


def test_an_unknown_key_inside_a_request_step_is_reported_at_its_line(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: a
            request: {method: GET, path: /Users}
            expct: {status: 200}
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:7: unknown key 'expct'")
    assert ("allowed: capture, collect, concurrent, description, expect, name, paginate, refs, repeat, request, "
            "vars, when, why") in problem


def test_an_unknown_key_in_a_later_step_is_reported_at_its_own_line(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: a
            request: {method: GET, path: /Users}
          - name: b
            request: {method: GET, path: /Groups}
            retries: 3
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:9: unknown key 'retries'")


def test_an_unknown_key_inside_a_steps_request_is_reported_at_its_line(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: a
            request:
              method: GET
              path: /Users
              bdy: {}
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:9: unknown key 'bdy'")


def test_an_unknown_key_inside_a_use_step_is_reported_at_its_line(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        vars:
          user: ${fake.user()}
        steps:
          - use: create-user
            wth: {user: "${user}"}
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:8: unknown key 'wth'")


def test_a_wrong_type_is_reported_at_the_line_of_the_key(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: okta
        steps:
          - name: a
            request: {method: GET, path: /Users}
    """)
    exc = load_broken(path, idps)
    assert messages(exc) == [f"{path}:3: idps: 'okta' is not of type 'array'"]


def test_a_value_not_matching_its_pattern_is_reported_at_the_line_of_the_key(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        tags: [Not A Tag]
        steps:
          - name: a
            request: {method: GET, path: /Users}
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:4: tags/0: 'Not A Tag' does not match")


def test_a_wrong_value_inside_a_steps_request_is_reported_at_its_line(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: a
            request:
              method: FETCH
              path: /Users
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:7: ")
    assert "'FETCH' is not one of" in problem


def test_a_wrong_type_for_a_steps_expect_is_reported_as_a_type_error(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: a
            request: {method: GET, path: /Users}
            expect: 5
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:7: ")
    assert "is not of type 'object'" in problem


def test_a_missing_required_top_level_key_is_reported_at_the_mapping_that_lacks_it(project, idps):
    path = scenario_file(project, """
        id: broken
        idps: [okta]
        steps:
          - name: a
            request: {method: GET, path: /Users}
    """)
    exc = load_broken(path, idps)
    assert messages(exc) == [f"{path}:1: 'title' is a required property"]


def test_a_step_without_a_request_is_reported_at_the_line_of_the_step(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: a
            request: {method: GET, path: /Users}
          - name: b
            expect: {status: 200}
    """)
    exc = load_broken(path, idps)
    assert messages(exc) == [f"{path}:7: steps/1: 'request' is a required property"]


# --- checks under `expect` -----------------------------------------------------------------

def test_an_unknown_check_name_is_reported_at_its_line_and_lists_the_known_checks(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: a
            request: {method: GET, path: /Users}
            expect:
              status: 200
              stauts: 200
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:9: unknown check 'stauts'")
    assert "known: absent, empty_body, excludes, headers, json, members, present, schema, scimType, status" in problem


def test_a_wrong_check_argument_is_reported_at_the_line_of_the_check(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: a
            request: {method: GET, path: /Users}
            expect:
              schema: User
              status: "abc"
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:9: check 'status': ")
    assert "'abc'" in problem


def test_an_unknown_rfc_schema_name_is_reported_as_a_wrong_check_argument(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: a
            request: {method: GET, path: /Users}
            expect:
              schema: Person
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:8: check 'schema': 'Person' is not one of")


# --- shared sequences ----------------------------------------------------------------------

def test_an_unknown_shared_sequence_is_reported_at_its_use_line_and_lists_the_known_ones(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        vars:
          user: ${fake.user()}
        steps:
          - use: lookup-user-absent
          - use: create-usr
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:8: unknown shared sequence 'create-usr'")
    assert "(known: " in problem and " create-user, " in problem and " lookup-user-absent, " in problem


def test_a_shared_sequences_param_not_provided_is_reported_at_the_use_line(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        vars:
          user: ${fake.user()}
        steps:
          - use: lookup-user-absent
          - use: get-user
    """)
    exc = load_broken(path, idps)
    [problem] = reported_at(exc, path, 8)
    assert "shared sequence 'get-user' needs 'user_id'" in problem
    assert "with:" in problem


def test_a_param_passed_with_with_satisfies_a_shared_sequence(project, idps):
    path = scenario_file(project, """
        id: fine
        title: t
        idps: [okta]
        steps:
          - use: lookup-user-absent
            with:
              user: ${fake.user()}
    """)
    scenario = load_scenario(path, idps)
    assert [step.via for step in scenario.steps] == ["lookup-user-absent"]


def test_a_problem_inside_a_shared_sequence_is_reported_in_the_steps_file(project, idps):
    shared = write(project / "scenarios" / "shared" / "extra.steps.yaml", """
        sequences:
          list-users:
            steps:
              - name: list
                request: {method: GET, path: /Users}
                expect:
                  stauts: 200
    """)
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - use: list-users
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{shared}:7: unknown check 'stauts'")


def test_an_unknown_key_in_a_shared_steps_file_is_reported_at_its_line(project):
    shared = write(project / "scenarios" / "shared" / "extra.steps.yaml", """
        sequences:
          list-users:
            steps:
              - name: list
                request: {method: GET, path: /Users}
                expct: {status: 200}
    """)
    with pytest.raises(ScenarioFileError) as exc:
        load_shared_steps(shared_step_files(project / "scenarios" / "okta" / "x.scenario.yaml"))
    [problem] = messages(exc)
    assert problem.startswith(f"{shared}:6: unknown key 'expct'")


def test_a_wrong_value_in_a_shared_steps_file_is_reported_at_its_line(project):
    shared = write(project / "scenarios" / "shared" / "extra.steps.yaml", """
        sequences:
          list-users:
            steps:
              - name: list
                request:
                  method: FETCH
                  path: /Users
    """)
    with pytest.raises(ScenarioFileError) as exc:
        load_shared_steps([shared])
    [problem] = messages(exc)
    assert problem.startswith(f"{shared}:6: sequences/list-users/steps/0/request/method: 'FETCH'")


def test_a_sequence_defined_twice_names_both_files(project):
    shared_dir = project / "scenarios" / "shared"
    extra = write(shared_dir / "extra.steps.yaml", """
        sequences:
          create-user:
            steps:
              - name: again
                request: {method: GET, path: /Users}
    """)
    with pytest.raises(ScenarioFileError) as exc:
        load_shared_steps(sorted(shared_dir.glob("*.steps.yaml")))
    [problem] = messages(exc)
    # Files load in sorted order: extra.steps.yaml first, so users.steps.yaml holds the repeat.
    assert problem.startswith(f"{shared_dir / 'users.steps.yaml'}:15: sequence 'create-user'")
    assert str(extra) in problem


def test_bad_yaml_in_a_shared_steps_file_is_reported_at_its_line(project):
    shared = write(project / "scenarios" / "shared" / "extra.steps.yaml", """
        sequences:
          list-users:
            steps:
          - name: list
    """)
    with pytest.raises(ScenarioFileError) as exc:
        load_shared_steps([shared])
    [problem] = messages(exc)
    assert problem.startswith(f"{shared}:4: invalid YAML")


# --- what shared sequences take and capture -----------------------------------------------

def test_a_capture_a_sequence_does_not_declare_is_reported_at_the_capture(project):
    shared = write(project / "scenarios" / "shared" / "extra.steps.yaml", """
        sequences:
          make-group:
            params: [group_name]
            steps:
              - name: create the group
                request: {method: POST, path: /Groups, body: {displayName: "${group_name}"}}
                capture: {group_id: body.id}
    """)
    with pytest.raises(ScenarioFileError) as exc:
        load_shared_steps([shared])
    assert messages(exc) == [f"{shared}:7: sequence 'make-group' captures 'group_id' but does not declare it: "
                             "add it to the sequence's `captures:`"]


def test_a_declared_capture_no_step_makes_is_reported_at_the_declaration(project):
    shared = write(project / "scenarios" / "shared" / "extra.steps.yaml", """
        sequences:
          list-users:
            captures: [user_ids]
            steps:
              - name: list
                request: {method: GET, path: /Users}
    """)
    with pytest.raises(ScenarioFileError) as exc:
        load_shared_steps([shared])
    [problem] = messages(exc)
    assert problem.startswith(f"{shared}:3: sequence 'list-users' declares it captures 'user_ids'")


@pytest.mark.parametrize(("request_text", "start"), [
    ('{method: GET, path: "/Users/${user_id}"}', "request: template references undefined name 'user_id'"),
    ("{idp: get_user}", "request template 'get_user' of IdP profile 'okta'"),
], ids=["template", "idp-template-needs"])
def test_a_sequence_step_reading_a_name_it_does_not_take_is_reported_in_the_steps_file(
        project, idps, request_text, start):
    # The caller defines user_id, but the sequence does not declare it takes it.
    shared = write(project / "scenarios" / "shared" / "extra.steps.yaml", f"""
        sequences:
          read-user:
            steps:
              - name: read it
                request: {request_text}
    """)
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        vars:
          user_id: abc
        steps:
          - use: read-user
    """)
    [problem] = messages(load_broken(path, idps))
    assert problem.startswith(f"{shared}:5: {start}")
    assert "'user_id'" in problem and problem.endswith("declare it in the `params:` of sequence 'read-user'")


def test_after_a_sequence_the_caller_sees_its_declared_captures_and_nothing_else(project, idps):
    write(project / "scenarios" / "shared" / "extra.steps.yaml", """
        sequences:
          make-user:
            captures: [made_id]
            steps:
              - name: create
                vars: {scratch: x}
                request: {method: POST, path: /Users, body: {userName: "${scratch}"}}
                capture: {made_id: body.id}
    """)
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - use: make-user
          - name: read it
            request: {method: GET, path: "/Users/${made_id}", query: {x: "${scratch}"}}
    """)
    [problem] = messages(load_broken(path, idps))
    assert problem.startswith(f"{path}:7: request: template references undefined name 'scratch'")


def test_the_shipped_sequences_declare_what_they_capture():
    shared = load_shared_steps(sorted((REPO / "scenarios" / "shared").glob("*.steps.yaml")))
    assert shared["create-user"].params == ("user",) and shared["create-user"].captures == ("user_id",)
    assert shared["create-empty-group"].captures == ("group_id",)


# --- step names ----------------------------------------------------------------------------

def test_a_step_name_over_80_characters_is_reported_at_its_line(project, idps):
    long_name = "read the user back and check every attribute the IdP sent, one by one, in one GET"
    assert len(long_name) == 81
    path = scenario_file(project, f"""
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: {long_name}
            request: {{method: GET, path: /Users}}
    """)
    assert messages(load_broken(path, idps)) == [
        f"{path}:5: step name is 81 characters long (at most 80): keep it short and put the rest in `description:`"]


def test_a_long_step_name_in_a_sequence_is_reported_in_the_steps_file(project):
    shared = write(project / "scenarios" / "shared" / "extra.steps.yaml", f"""
        sequences:
          list-users:
            steps:
              - name: {"x" * 81}
                request: {{method: GET, path: /Users}}
    """)
    with pytest.raises(ScenarioFileError) as exc:
        load_shared_steps([shared])
    [problem] = messages(exc)
    assert problem.startswith(f"{shared}:4: step name is 81 characters long")


def test_a_step_description_is_kept_on_the_step(project, idps):
    path = scenario_file(project, """
        id: fine
        title: t
        idps: [okta]
        steps:
          - name: list users
            description: The IdP lists users, as it does before an import.
            request: {method: GET, path: /Users}
    """)
    [step] = load_scenario(path, idps).steps
    assert step.description == "The IdP lists users, as it does before an import."


def test_every_shipped_step_name_is_at_most_80_characters():
    for path in sorted((REPO / "scenarios").rglob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        steps = list(data.get("steps") or [])
        for sequence in (data.get("sequences") or {}).values():
            steps += sequence["steps"]
        assert all(len(step.get("name", "")) <= 80 for step in steps), path


# --- IdPs and their request templates ------------------------------------------------------

def test_an_unknown_idp_is_reported_at_its_item_line_and_lists_the_known_ones(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps:
          - okta
          - nosuch-idp
        steps:
          - name: a
            request: {method: GET, path: /Users}
    """)
    exc = load_broken(path, idps)
    known = ", ".join(sorted(idps))
    assert messages(exc) == [f"{path}:5: unknown IdP profile 'nosuch-idp' (known: {known})"]


def test_an_unknown_idp_request_template_is_reported_at_the_idp_key(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: a
            request:
              idp: nope
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:7: IdP profile 'okta' has no request template 'nope'")
    assert "it has: activate_user, add_members, create_group, create_user" in problem


def test_an_idp_request_template_needing_an_undefined_name_names_the_profile_line(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: a
            request: {idp: get_user}
    """)
    exc = load_broken(path, idps)
    okta = project / "profiles" / "idp" / "okta.yaml"
    line = okta.read_text().splitlines().index("  get_user:") + 1
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:6: request template 'get_user' of IdP profile 'okta' ({okta}:{line})")
    assert "needs 'user_id'" in problem


# --- templates -----------------------------------------------------------------------------

def test_a_template_referencing_an_undefined_name_is_reported_at_its_request(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        vars:
          user: ${fake.user()}
        steps:
          - name: a
            request: {method: GET, path: /Users, query: {filter: 'userName eq "${usr.userName}"'}}
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:8: request: template references undefined name 'usr'")
    assert "defined here: fake, idp, run_id, target, user" in problem


def test_an_undefined_name_deep_in_a_block_request_is_reported_at_the_templates_line(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        vars:
          user: ${fake.user()}
        steps:
          - name: a
            request:
              method: POST
              path: /Users
              body:
                userName: ${usr.userName}
    """)
    exc = load_broken(path, idps)
    assert len(reported_at(exc, path, 12)) == 1


def test_a_capture_used_before_the_step_that_captures_it_is_an_undefined_name(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: read it
            request: {method: GET, path: "/Users/${user_id}"}
          - name: create it
            request: {method: POST, path: /Users, body: {userName: u}}
            capture: {user_id: body.id}
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:6: request: template references undefined name 'user_id'")


def test_a_capture_is_defined_for_the_steps_after_it(project, idps):
    path = scenario_file(project, """
        id: fine
        title: t
        idps: [okta]
        steps:
          - name: create it
            request: {method: POST, path: /Users, body: {userName: u}}
            capture: {user_id: body.id}
          - name: read it
            request: {method: GET, path: "/Users/${user_id}"}
    """)
    assert len(load_scenario(path, idps).steps) == 2


def test_an_undefined_name_in_a_check_argument_is_reported_at_the_check(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: a
            request: {method: GET, path: /Users}
            expect:
              status: 200
              json: {id: "${user_id}"}
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:9: expect.json: template references undefined name 'user_id'")


def test_a_template_syntax_error_is_reported_at_its_request(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        vars:
          user: ${fake.user()}
        steps:
          - name: a
            request: {method: GET, path: "/Users/${user.}"}
    """)
    exc = load_broken(path, idps)
    assert messages(exc) == [f"{path}:8: request: expected more in ${{user.}}"]


def test_a_template_syntax_error_in_scenario_vars_is_reported_at_the_var(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        vars:
          user: ${fake.user()}
          name: ${user[}
        steps:
          - name: a
            request: {method: GET, path: /Users}
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:6: vars.name: ")


def test_an_unknown_function_is_reported_and_the_known_ones_listed(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: a
            request: {method: GET, path: "/Users/${nope()}"}
    """)
    exc = load_broken(path, idps)
    assert messages(exc) == [
        f"{path}:6: request: unknown function nope(); known: batch, concat, fake.group, fake.user, list, lower, "
        "members, merge, quote, "
        "set, upper, uuid, without"
    ]


def test_a_capture_not_starting_with_body_headers_or_status_is_reported_at_the_capture(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: a
            request: {method: POST, path: /Users, body: {userName: u}}
            capture:
              user_id: user.id
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:8: capture 'user_id': 'user.id' must start with one of "
                              "body, headers, status")


def test_a_capture_that_is_a_function_call_is_reported_at_the_capture(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        steps:
          - name: a
            request: {method: POST, path: /Users, body: {userName: u}}
            capture:
              user_id: uuid()
    """)
    exc = load_broken(path, idps)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:8: capture 'user_id': ")


# --- several problems ----------------------------------------------------------------------

def test_several_static_problems_in_one_file_are_all_reported_in_line_order(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta, nosuch-idp]
        steps:
          - name: a
            request: {method: GET, path: "/Users/${nobody}"}
            expect:
              stauts: 200
          - use: nope
          - name: c
            request: {idp: nope}
            capture: {x: user.id}
    """)
    exc = load_broken(path, idps)
    assert [m.split(": ", 1)[0] for m in messages(exc)] == [
        f"{path}:3", f"{path}:6", f"{path}:8", f"{path}:9", f"{path}:11", f"{path}:12",
    ]


def test_several_schema_problems_in_one_file_are_all_reported(project, idps):
    path = scenario_file(project, """
        id: Broken Id
        title: t
        idps: [okta]
        colour: red
        steps:
          - name: a
            request: {method: GET, path: /Users}
            expct: {status: 200}
    """)
    exc = load_broken(path, idps)
    assert len(reported_at(exc, path, 1)) == 1
    assert len(reported_at(exc, path, 4)) == 1
    assert len(reported_at(exc, path, 8)) == 1
    assert len(messages(exc)) == 3


def test_two_unknown_keys_in_one_mapping_are_both_reported(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        colour: red
        shape: round
        steps:
          - name: a
            request: {method: GET, path: /Users}
    """)
    exc = load_broken(path, idps)
    assert len(reported_at(exc, path, 4)) == 1
    assert len(reported_at(exc, path, 5)) == 1


# --- profiles ------------------------------------------------------------------------------

def test_a_target_profile_with_a_token_says_tokens_are_never_stored_in_files(tmp_path):
    path = write(tmp_path / "profiles" / "targets" / "mine.yaml", """
        id: mine
        base_url: https://scim.example.com/scim/v2
        auth:
          type: bearer
          token: s3cr3t-value
    """)
    with pytest.raises(ScenarioFileError) as exc:
        load_target_profile(path)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:5: tokens are never stored in files")
    assert "s3cr3t-value" not in problem


def test_a_target_profile_with_a_flow_style_token_is_refused_at_the_auth_line(tmp_path):
    path = write(tmp_path / "profiles" / "targets" / "mine.yaml", """
        id: mine
        base_url: https://scim.example.com/scim/v2
        auth: {type: bearer, token: s3cr3t-value}
    """)
    with pytest.raises(ScenarioFileError) as exc:
        load_target_profile(path)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:3: tokens are never stored in files")


def test_a_target_profile_without_a_base_url_or_embedded_is_refused(tmp_path):
    path = write(tmp_path / "mine.yaml", """
        id: mine
        name: no url
    """)
    with pytest.raises(ScenarioFileError) as exc:
        load_target_profile(path)
    assert messages(exc) == [f"{path}:1: a target needs base_url (or embedded: true)"]


def test_a_target_profile_with_an_unknown_capability_is_reported_at_capabilities(tmp_path):
    path = write(tmp_path / "mine.yaml", """
        id: mine
        base_url: https://scim.example.com/scim/v2
        capabilities:
          teleport: true
    """)
    with pytest.raises(ScenarioFileError) as exc:
        load_target_profile(path)
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:3: capabilities: 'teleport' is not one of")


def test_an_idp_profile_whose_id_does_not_match_its_file_name_is_reported_at_id(tmp_path):
    path = write(tmp_path / "profiles" / "idp" / "mine.yaml", """
        # A comment first, so the id is not on line 1.
        id: other
        name: Mine
        headers: {}
        requests: {}
    """)
    with pytest.raises(ScenarioFileError) as exc:
        load_idp_profiles(tmp_path / "profiles")
    assert messages(exc) == [f"{path}:2: id 'other' must match the file name 'mine.yaml'"]


def test_an_idp_profile_with_an_unknown_key_is_reported_at_its_line(tmp_path):
    path = write(tmp_path / "profiles" / "idp" / "mine.yaml", """
        id: mine
        name: Mine
        headers: {}
        colour: red
        requests: {}
    """)
    with pytest.raises(ScenarioFileError) as exc:
        load_idp_profiles(tmp_path / "profiles")
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:4: unknown key 'colour'")


def test_an_idp_request_template_with_a_syntax_error_is_reported_at_the_template(tmp_path):
    path = write(tmp_path / "profiles" / "idp" / "mine.yaml", """
        id: mine
        name: Mine
        headers: {}
        requests:
          get_user: {method: GET, path: "/Users/${user.}"}
    """)
    with pytest.raises(ScenarioFileError) as exc:
        load_idp_profiles(tmp_path / "profiles")
    assert messages(exc) == [f"{path}:5: requests.get_user: expected more in ${{user.}}"]


def test_an_idp_request_template_with_an_unknown_function_is_reported_at_the_template(tmp_path):
    path = write(tmp_path / "profiles" / "idp" / "mine.yaml", """
        id: mine
        name: Mine
        headers: {}
        requests:
          lookup: {method: GET, path: /Users}
          get_user: {method: GET, path: "/Users/${nope()}"}
    """)
    with pytest.raises(ScenarioFileError) as exc:
        load_idp_profiles(tmp_path / "profiles")
    [problem] = messages(exc)
    assert problem.startswith(f"{path}:6: requests.get_user: unknown function nope()")


@pytest.mark.parametrize(("needs", "query", "expected"), [
    # A name read but not declared: reported where it is read.
    ("[user_id]", '{attributes: "${attribute}"}', "8: requests.get_user: reads 'attribute', which its `needs:` does "
                                                  "not declare"),
    # A name declared but never read: reported at the declaration. run_id is a built-in: allowed, not needed.
    ("[run_id, user_id, user]", '{filter: "${uuid()}-${run_id}"}', "5: requests.get_user: declares 'user' in "
                                                                   "`needs:` but never reads it"),
], ids=["read-not-declared", "declared-not-read"])
def test_an_idp_templates_needs_must_list_exactly_the_names_it_reads(tmp_path, needs, query, expected):
    path = write(tmp_path / "profiles" / "idp" / "mine.yaml", f"""
        id: mine
        name: Mine
        requests:
          get_user:
            needs: {needs}
            method: GET
            path: /Users/${{user_id}}
            query: {query}
    """)
    with pytest.raises(ScenarioFileError) as exc:
        load_idp_profiles(tmp_path / "profiles")
    assert messages(exc) == [f"{path}:{expected}"]


def test_a_scenario_must_define_what_an_idp_template_declares_it_needs(project, idps):
    assert idps["entra"].request_names["update_user"] == {"update", "user_id"}
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [entra]
        steps:
          - name: rename
            vars: {user_id: abc}
            request: {idp: replace_attribute}
    """)
    problems = messages(load_broken(path, idps))
    assert [p.split(" needs ")[1].split(",")[0] for p in problems] == ["'attribute'", "'value'"]
    assert all(p.startswith(f"{path}:7: request template 'replace_attribute' of IdP profile 'entra'") for p in problems)


def test_problems_of_several_idp_profiles_are_all_reported(project):
    idp_dir = project / "profiles" / "idp"
    first = write(idp_dir / "aaa.yaml", "id: bbb\nname: A\nheaders: {}\nrequests: {}\n")
    second = write(idp_dir / "zzz.yaml", "id: zzz\nname: Z\nheaders: {}\nrequests: {}\nfoo: 1\n")
    with pytest.raises(ScenarioFileError) as exc:
        load_idp_profiles(project / "profiles")
    assert [m.split(": ", 1)[0] for m in messages(exc)] == [f"{first}:1", f"{second}:5"]


# --- the shipped files ---------------------------------------------------------------------

def test_the_shipped_idp_profiles_load_without_problems():
    shipped = {p.stem for p in (REPO / "profiles" / "idp").glob("*.yaml")}
    assert {"entra", "okta", "okta-aiw"} <= shipped
    assert set(load_idp_profiles(REPO / "profiles")) == shipped


def test_a_profile_that_extends_another_keeps_its_envelope_and_replaces_templates_by_name():
    profiles = load_idp_profiles(REPO / "profiles")
    okta, aiw = profiles["okta"], profiles["okta-aiw"]
    assert aiw.headers == okta.headers and aiw.reactions == okta.reactions
    assert aiw.requests["create_user"] == okta.requests["create_user"]
    assert (okta.requests["deactivate_user"].method, aiw.requests["deactivate_user"].method) == ("PATCH", "PUT")
    assert aiw.request_origins["deactivate_user"].startswith(str(REPO / "profiles" / "idp" / "okta-aiw.yaml"))
    assert aiw.request_origins["create_user"].startswith(str(REPO / "profiles" / "idp" / "okta.yaml"))


def test_profiles_that_extend_each_other_in_a_circle_are_reported(tmp_path: Path):
    (tmp_path / "idp").mkdir()
    (tmp_path / "idp" / "a.yaml").write_text("id: a\nextends: b\nheaders: {}\n")
    (tmp_path / "idp" / "b.yaml").write_text("id: b\nextends: a\nheaders: {}\n")
    (tmp_path / "idp" / "c.yaml").write_text("id: c\nextends: nope\nheaders: {}\n")
    with pytest.raises(ScenarioFileError) as exc:
        load_idp_profiles(tmp_path)
    text = "\n".join(messages(exc))
    assert f"{tmp_path / 'idp' / 'b.yaml'}:2: profiles extend each other in a circle: a -> b -> a" in text
    assert f"{tmp_path / 'idp' / 'c.yaml'}:2: extends unknown IdP profile 'nope' (known: a, b, c)" in text


def test_the_shipped_shared_steps_load_without_problems():
    shared = load_shared_steps(sorted((REPO / "scenarios" / "shared").glob("*.steps.yaml")))
    assert {"lookup-user-absent", "create-user", "get-user"} <= set(shared)


@pytest.mark.parametrize(
    "path",
    sorted((REPO / "profiles" / "targets").glob("*.yaml")),
    ids=lambda p: p.name,
)
def test_a_shipped_target_profile_loads_without_problems(path):
    assert load_target_profile(path).id == path.stem


@pytest.mark.parametrize(
    "path",
    sorted((REPO / "scenarios").rglob(f"*{SCENARIO_SUFFIX}")),
    ids=lambda p: str(p.relative_to(REPO / "scenarios")),
)
def test_a_shipped_scenario_loads_without_problems(path):
    scenario = load_scenario(path, load_idp_profiles(REPO / "profiles"))
    assert scenario.steps


def test_a_tag_that_is_a_pytest_marker_is_reported(project, idps):
    path = scenario_file(project, """
        id: broken
        title: t
        idps: [okta]
        tags: [users, skip]
        steps:
          - name: a
            request: {method: GET, path: /Users}
    """)
    [problem] = messages(load_broken(path, idps))
    assert problem == f"{path}:4: tag 'skip' is reserved (it is a pytest marker, a level or an IdP)"


def test_an_idp_request_template_without_a_path_is_reported(tmp_path):
    path = write(tmp_path / "profiles" / "idp" / "mine.yaml", """
        id: mine
        name: Mine
        headers: {}
        requests:
          get_user: {method: GET}
    """)
    with pytest.raises(ScenarioFileError) as exc:
        load_idp_profiles(tmp_path / "profiles")
    assert messages(exc) == [f"{path}:5: requests/get_user: 'path' is a required property"]
