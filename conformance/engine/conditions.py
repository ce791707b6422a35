"""Capability conditions: `requires:` of a scenario and `when:` of a step.

A condition is one capability name, or several joined by `and` or by `or` (not both: a
condition that needs parentheses should be two steps), each optionally preceded by `not`:

    links_by_email
    not delete_users
    links_by_email or unique_emails
    patch and not delete_users

Targets differ in ways that change what the right answer is (Grafana links an existing user by
email, another server answers 409): the target profile declares the capability, the scenario
states the expectation of each branch, and the run checks the one the target claims.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Condition", "ConditionError", "parse_condition"]

_WORD = re.compile(r"[a-z][a-z0-9_]*")


class ConditionError(ValueError):
    """A condition that does not parse or names an unknown capability."""


@dataclass(frozen=True)
class Condition:
    """A parsed condition: terms (negated?, capability) joined by one operator."""

    text: str
    terms: tuple[tuple[bool, str], ...]
    joiner: str  # "and" or "or" (irrelevant with one term)

    def holds(self, capabilities: Iterable[str]) -> bool:
        have = set(capabilities)
        results = [(name in have) != negated for negated, name in self.terms]
        return all(results) if self.joiner == "and" else any(results)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for _, name in self.terms)


def parse_condition(text: str, known: Iterable[str]) -> Condition:
    """Parse `text`; raise ConditionError naming the first problem."""
    known_names = set(known)
    words = text.split()
    if not words:
        raise ConditionError("empty condition")
    terms: list[tuple[bool, str]] = []
    joiners: set[str] = set()
    expect_term = True
    index = 0
    while index < len(words):
        word = words[index]
        if expect_term:
            negated = word == "not"
            if negated:
                index += 1
                if index == len(words):
                    raise ConditionError(f"{text!r}: 'not' must be followed by a capability")
                word = words[index]
            if not _WORD.fullmatch(word) or word in ("and", "or", "not"):
                raise ConditionError(f"{text!r}: expected a capability name, got {word!r}")
            if word not in known_names:
                raise ConditionError(
                    f"{text!r}: unknown capability {word!r} (known: {', '.join(sorted(known_names))})"
                )
            terms.append((negated, word))
        else:
            if word not in ("and", "or"):
                raise ConditionError(f"{text!r}: expected 'and' or 'or', got {word!r}")
            joiners.add(word)
        expect_term = not expect_term
        index += 1
    if expect_term:
        raise ConditionError(f"{text!r}: ends with {words[-1]!r}; a capability must follow")
    if len(joiners) > 1:
        raise ConditionError(f"{text!r}: mixes 'and' and 'or'; split it into two conditions")
    return Condition(text, tuple(terms), joiners.pop() if joiners else "and")
