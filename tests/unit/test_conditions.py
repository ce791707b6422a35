"""Capability conditions of `requires:` and `when:`."""

from __future__ import annotations

import pytest

from conformance.engine.conditions import ConditionError, parse_condition

KNOWN = ("patch", "links_by_email", "unique_emails", "delete_users")


@pytest.mark.parametrize(
    ("text", "capabilities", "holds"),
    [
        ("patch", {"patch"}, True),
        ("patch", set(), False),
        ("not delete_users", {"patch"}, True),
        ("not delete_users", {"delete_users"}, False),
        ("links_by_email or unique_emails", {"unique_emails"}, True),
        ("links_by_email or unique_emails", {"patch"}, False),
        ("patch and not delete_users", {"patch"}, True),
        ("patch and not delete_users", {"patch", "delete_users"}, False),
    ],
)
def test_a_condition_holds_exactly_when_its_capabilities_say_so(text: str, capabilities: set, holds: bool):
    assert parse_condition(text, KNOWN).holds(capabilities) is holds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty condition"),
        ("pach", "unknown capability 'pach' (known: delete_users, links_by_email, patch, unique_emails)"),
        ("patch and", "ends with 'and'; a capability must follow"),
        ("not", "'not' must be followed by a capability"),
        ("patch xor unique_emails", "expected 'and' or 'or', got 'xor'"),
        ("patch and unique_emails or links_by_email", "mixes 'and' and 'or'"),
    ],
)
def test_a_bad_condition_says_what_is_wrong(text: str, message: str):
    with pytest.raises(ConditionError) as exc:
        parse_condition(text, KNOWN)
    assert message in str(exc.value)
