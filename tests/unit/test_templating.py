"""The `${...}` template language of scenario and profile values, and the per-run fake data."""

from __future__ import annotations

import re

import pytest

from conformance.engine.fakedata import RunData
from conformance.engine.templating import CompiledTemplate, TemplateError, referenced_names, render

USER = {"userName": "ada@example.com", "age": 36, "active": True, "manager": None}
SCOPE = {
    "user": USER,
    "resources": [{"id": "first"}, {"id": "second"}],
    "labels": {"a b": "spaced", "0": "zero as text"},
    "count": 3,
    "flag": False,
}


# --- whole values keep their type ----------------------------------------------------------

def test_a_whole_value_expression_of_a_mapping_stays_a_mapping():
    assert render("${user}", SCOPE) == USER


def test_a_whole_value_expression_of_an_integer_stays_an_integer():
    assert render("${count}", SCOPE) == 3


def test_a_whole_value_expression_of_a_boolean_stays_a_boolean():
    assert render("${flag}", SCOPE) is False


def test_a_whole_value_expression_of_null_stays_none():
    assert render("${user.manager}", SCOPE) is None


def test_spaces_inside_the_braces_do_not_change_a_whole_value():
    assert render("${ user.age }", SCOPE) == 36


def test_text_around_an_expression_makes_the_value_text():
    assert render(" ${count}", SCOPE) == " 3"


# --- embedded expressions are formatted as text --------------------------------------------

def test_an_embedded_string_is_inserted_as_is():
    assert render("/Users?name=${user.userName}", SCOPE) == "/Users?name=ada@example.com"


def test_an_embedded_number_is_formatted_as_json():
    assert render("age ${user.age}", SCOPE) == "age 36"


def test_embedded_booleans_are_formatted_as_true_and_false():
    assert render("${user.active}/${flag}", SCOPE) == "true/false"


def test_an_embedded_null_is_formatted_as_null():
    assert render("manager=${user.manager}", SCOPE) == "manager=null"


def test_an_embedded_mapping_is_formatted_as_json_text():
    assert render("x ${resources[0]}", SCOPE) == 'x {"id": "first"}'


def test_several_expressions_in_one_string_are_all_rendered():
    assert render("${user.userName} is ${user.age}", SCOPE) == "ada@example.com is 36"


def test_templates_inside_nested_mappings_lists_and_keys_are_rendered():
    value = {"${user.userName}": ["${count}", {"n": "n=${count}"}], "plain": 1}
    assert render(value, SCOPE) == {"ada@example.com": [3, {"n": "n=3"}], "plain": 1}


def test_a_string_without_templates_is_unchanged():
    assert render("no templates here: $ { } $", SCOPE) == "no templates here: $ { } $"


# --- access --------------------------------------------------------------------------------

def test_attribute_access_reads_a_mapping_key():
    assert render("${user.userName}", SCOPE) == "ada@example.com"


def test_index_access_reads_a_list_item():
    assert render("${resources[1].id}", SCOPE) == "second"


def test_a_negative_index_counts_from_the_end():
    assert render("${resources[-1].id}", SCOPE) == "second"


def test_a_quoted_key_reads_a_key_that_is_not_a_name():
    assert render("${labels['a b']}", SCOPE) == "spaced"
    assert render('${labels["0"]}', SCOPE) == "zero as text"


def test_attribute_access_reads_an_objects_public_attribute():
    assert render("${fake.run_id}", {"fake": RunData("abc123")}) == "abc123"


def test_an_objects_private_attribute_is_not_reachable():
    with pytest.raises(TemplateError, match="has no '_faker'"):
        render("${fake._faker}", {"fake": RunData("abc123")})


# --- the $${ escape ------------------------------------------------------------------------

def test_double_dollar_brace_renders_a_literal_dollar_brace():
    assert render("$${user.userName}", SCOPE) == "${user.userName}"


def test_an_escape_and_an_expression_can_share_a_string():
    assert render("$${x} is ${count}", SCOPE) == "${x} is 3"


def test_an_escaped_expression_is_not_a_reference():
    assert referenced_names("$${undefined_thing}") == (set(), set())


# --- errors name what was missing ----------------------------------------------------------

def test_an_undefined_name_is_named_in_the_error():
    with pytest.raises(TemplateError, match="undefined name 'nobody'"):
        render("${nobody.userName}", SCOPE)


def test_a_missing_key_names_the_key_the_value_and_the_keys_it_has():
    with pytest.raises(TemplateError) as exc:
        render("${user.email}", SCOPE)
    message = str(exc.value)
    assert "user has no key 'email'" in message
    assert "userName, age, active, manager" in message


def test_a_missing_key_deep_in_a_path_names_the_path_that_lacks_it():
    with pytest.raises(TemplateError, match=re.escape("resources[0] has no key 'name'")):
        render("${resources[0].name}", SCOPE)


def test_an_out_of_range_index_names_the_index_and_the_length():
    with pytest.raises(TemplateError, match=re.escape("resources[5] is out of range (length 2)")):
        render("${resources[5]}", SCOPE)


def test_an_attribute_of_a_scalar_names_the_value_and_its_type():
    with pytest.raises(TemplateError, match=re.escape("count (int) has no 'id'")):
        render("${count.id}", SCOPE)


def test_an_unknown_function_is_an_error_when_rendered():
    with pytest.raises(TemplateError, match=re.escape("unknown function nope()")):
        render("${nope()}", SCOPE)


def test_an_unknown_function_is_an_error_when_checked_and_lists_the_known_ones():
    with pytest.raises(TemplateError) as exc:
        referenced_names({"a": ["${fake.person()}"]})
    assert str(exc.value) == (
        "unknown function fake.person(); known: batch, concat, fake.group, fake.user, list, lower, members, merge, "
        "quote, "
        "set, upper, uuid, without"
    )


@pytest.mark.parametrize(
    "text", ["${user.}", "${user[}", "${user[0}", "${}", "${.x}", "${a b}", "${user.userName"]
)
def test_a_syntax_error_raises_template_error(text):
    with pytest.raises(TemplateError):
        render(text, SCOPE)


def test_a_dangling_dot_says_more_was_expected():
    with pytest.raises(TemplateError, match=re.escape("expected more in ${user.}")):
        referenced_names("${user.}")


def test_an_unclosed_expression_is_reported_as_unclosed():
    with pytest.raises(TemplateError, match="unclosed"):
        referenced_names("/Users/${user.userName")


# --- functions -----------------------------------------------------------------------------

def test_lower_and_upper_take_an_expression_or_a_quoted_string():
    assert render("${lower(user.userName)}", {"user": {"userName": "Ada@X"}}) == "ada@x"
    assert render("${upper('ada')}", {}) == "ADA"


def test_a_function_needing_the_data_generator_says_it_is_not_available():
    with pytest.raises(TemplateError, match="fake is not available here"):
        render("${uuid()}", {})


def test_uuid_returns_a_new_uuid_each_time():
    scope = {"fake": RunData("abc123")}
    first, second = render("${uuid()}", scope), render("${uuid()}", scope)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", first)
    assert first != second


# --- referenced_names ----------------------------------------------------------------------

def test_referenced_names_returns_the_root_names_only():
    names, _ = referenced_names("${user.userName} ${resources[0].id}")
    assert names == {"user", "resources"}


def test_referenced_names_does_not_count_a_functions_root_as_a_name():
    names, calls = referenced_names("${fake.user()}")
    assert names == set()
    assert calls == {"fake.user"}


def test_referenced_names_counts_the_names_in_function_arguments():
    names, calls = referenced_names("${lower(user.userName)}")
    assert names == {"user"}
    assert calls == {"lower"}


def test_referenced_names_walks_mapping_keys_values_and_list_items():
    names, _ = referenced_names({"${key}": ["${item}", {"x": "${value}"}], "n": 1})
    assert names == {"key", "item", "value"}


def test_referenced_names_of_plain_data_is_empty():
    assert referenced_names({"a": [1, True, None, "text"]}) == (set(), set())


# --- fake data -----------------------------------------------------------------------------

def test_fake_user_renders_to_a_mapping_with_the_scim_fields():
    user = render("${fake.user()}", {"fake": RunData("abc123")})
    fields = {"userName", "givenName", "familyName", "displayName", "email", "externalId", "password"}
    assert fields <= set(user)


def test_fake_users_of_one_run_have_unique_user_names():
    data = RunData("abc123")
    names = [data.user()["userName"] for _ in range(50)]
    assert len(set(names)) == 50


def test_fake_user_names_start_with_the_scimc_run_id_prefix():
    data = RunData("abc123")
    for _ in range(5):
        assert data.user()["userName"].startswith("scimc-abc123-")


def test_fake_user_names_contain_the_run_id_and_use_the_email_domain():
    user = RunData("abc123", email_domain="corp.example").user()
    assert "abc123" in user["userName"]
    assert user["userName"].endswith("@corp.example")


def test_fake_display_names_contain_the_run_id():
    data = RunData("abc123")
    assert all("abc123" in data.user()["displayName"] for _ in range(5))


def test_fake_groups_have_unique_display_names_with_the_run_id_prefix():
    data = RunData("abc123")
    names = [data.group()["displayName"] for _ in range(20)]
    assert len(set(names)) == 20
    assert all(name.startswith("scimc-abc123-") for name in names)


def test_fake_users_of_two_runs_do_not_share_user_names():
    first = {RunData("run111").user()["userName"] for _ in range(3)}
    second = {RunData("run222").user()["userName"] for _ in range(3)}
    assert first.isdisjoint(second)


def test_fake_users_of_two_workers_of_one_run_do_not_share_user_names():
    first = RunData("abc123", worker="0")
    second = RunData("abc123", worker="1")
    assert first.user()["userName"] != second.user()["userName"]


def test_fake_user_names_of_a_worker_still_start_with_the_scimc_run_id_prefix():
    assert RunData("abc123", worker="1").user()["userName"].startswith("scimc-abc123-")


def test_a_function_called_with_the_wrong_number_of_arguments_is_a_template_error():
    with pytest.raises(TemplateError, match=r"lower\(\) does not take 2 argument"):
        render("${lower('a', 'b')}", {})


# --- helper functions ------------------------------------------------------------------------

def test_merge_applies_changes_deeply_and_keeps_everything_else():
    scope = {"user": {"id": "1", "name": {"givenName": "A", "familyName": "B"}, "active": True},
             "changes": {"name": {"givenName": "C"}, "displayName": "C B"}}
    assert render("${merge(user, changes)}", scope) == {
        "id": "1", "name": {"givenName": "C", "familyName": "B"}, "active": True, "displayName": "C B"}


def test_without_drops_the_named_keys():
    assert render("${without(u, 'meta', 'active')}", {"u": {"id": "1", "meta": {}, "active": True}}) == {"id": "1"}


def test_members_and_batch_build_okta_style_member_lists():
    scope = {"ids": ["a", "b", "c", "d", "e"]}
    assert render("${members(batch(ids, 2, 3))}", scope) == [{"value": "e"}]
    assert render("${members(batch(ids, 2, 1))}", scope) == [{"value": "a"}, {"value": "b"}]


def test_quote_makes_a_filter_string_literal_with_escapes():
    assert render("userName eq ${quote(n)}", {"n": 'o\'b+"z"ë'}) == 'userName eq "o\'b+\\"z\\"ë"'


def test_list_builds_a_list_of_values():
    assert render("${list(a, b)}", {"a": "x", "b": 2}) == ["x", 2]


def test_a_function_given_the_wrong_kind_of_value_is_a_template_error():
    with pytest.raises(TemplateError, match=r"members\(\): expects a list of ids, not str"):
        render("${members(a)}", {"a": "x"})


def test_set_replaces_one_dotted_path_and_json_constants_are_literals():
    current = {"id": "1", "active": True, "name": {"givenName": "A", "familyName": "B"}}
    assert render("${set(current, 'active', false)}", {"current": current})["active"] is False
    assert render("${set(current, 'name.givenName', 'C')}", {"current": current})["name"] == {
        "givenName": "C", "familyName": "B"}
    assert current["active"] is True  # the original is not changed
    assert render("${null}", {}) is None and render("${true}", {}) is True


def test_concat_joins_lists():
    assert render("${concat(a, b, list(c))}", {"a": [1], "b": [2, 3], "c": 4}) == [1, 2, 3, 4]


# --- a compiled template renders as render does --------------------------------------------

SAME_AS_RENDER = [
    "plain text", "", "$${not a template}", "${user}", "${ user.userName }", "${resources[1].id}",
    "${labels['a b']}", "id ${resources[0].id} of ${count}", "${flag} and ${user.manager}", "${true}",
    "${lower(user.userName)}", {"a": "${count}", "b": ["${flag}", 1, None, {"c": "x-${count}"}]},
    {"${user.userName}": "templated key"}, ("${count}", "tuple item"), 7, None,
]


@pytest.mark.parametrize("value", SAME_AS_RENDER, ids=repr)
def test_a_compiled_template_renders_what_render_renders(value: object):
    compiled = CompiledTemplate(value)
    assert compiled.render(SCOPE) == render(value, SCOPE)
    assert compiled.render({**SCOPE, "count": 4}) == render(value, {**SCOPE, "count": 4})  # a new scope each time


@pytest.mark.parametrize("value", ["${user.nickName}", "${undefined}", "${resources[5].id}", "x ${nope(1)}",
                                   "${unclosed", {"a": ["${user.age.years}"]}], ids=repr)
def test_a_compiled_template_fails_when_rendered_with_the_message_render_gives(value: object):
    with pytest.raises(TemplateError) as expected:
        render(value, SCOPE)
    compiled = CompiledTemplate(value)  # compiling never fails: the error belongs to the render
    with pytest.raises(TemplateError) as got:
        compiled.render(SCOPE)
    assert str(got.value) == str(expected.value)


def test_a_compiled_template_builds_new_containers_on_each_render():
    compiled = CompiledTemplate({"list": [1], "map": {"k": "v"}})
    first, second = compiled.render({}), compiled.render({})
    assert first == second and first["list"] is not second["list"] and first["map"] is not second["map"]
