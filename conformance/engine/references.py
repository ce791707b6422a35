"""The reference catalogue: what a `refs:` id means, where to read it, and which ids are unknown.

Scenarios, shared steps and IdP profiles cite their sources as ids (`entra-capitalised-ops`,
`okta-scim-20`) from `references.yaml`, shipped with the package, or as RFC sections
(`RFC 7644 §3.5.2`), which resolve by pattern to rfc-editor.org. A plain https URL resolves to
itself. docs/references.md is generated from the catalogue (`python -m conformance.engine.references`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from conformance.engine.errors import Problem
from conformance.engine.scenario.yamlsrc import SourceMap

__all__ = [
    "DOCS_PAGE",
    "Reference",
    "catalogue",
    "explain",
    "link",
    "reference_lines",
    "reference_problems",
    "render_markdown",
    "resolve",
]

DOCS_PAGE = "docs/references.md"
RFC_CITATION = re.compile(r"RFC (\d{4})(?: §(\d+(?:\.\d+)*))?")
MAX_EXPLAINED = 5  # a failure report explains this many references; the rest are listed by id
RFC_TITLES = {
    "6750": "OAuth 2.0 bearer token usage",
    "7232": "HTTP conditional requests",
    "7235": "HTTP authentication",
    "7643": "SCIM core schema",
    "7644": "SCIM protocol",
}


@dataclass(frozen=True)
class Reference:
    """One citable source: an id, a line saying what it backs, and where to read it."""

    id: str
    summary: str
    sources: tuple[str, ...]
    note: str = ""
    secondary: bool = False  # the behaviour comes from a third party, not from the IdP's vendor

    @property
    def url(self) -> str:
        return self.sources[0] if self.sources else ""


@cache
def catalogue() -> dict[str, Reference]:
    """Every catalogued reference by id, read from the package data (works from an installed wheel)."""
    text = resources.files(__package__).joinpath("references.yaml").read_text("utf-8")
    # libyaml, where PyYAML has it: every run reads the catalogue to check the ids it cites.
    entries: dict[str, Any] = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return {ref_id: Reference(id=ref_id, summary=entry["summary"], sources=tuple(entry["sources"]),
                              note=entry.get("note", ""), secondary=bool(entry.get("secondary", False)))
            for ref_id, entry in entries.items()}


def _rfc(ref: str) -> Reference | None:
    match = RFC_CITATION.fullmatch(ref)
    if match is None:
        return None
    number, section = match.groups()
    url = f"https://www.rfc-editor.org/rfc/rfc{number}" + (f"#section-{section}" if section else "")
    title = RFC_TITLES.get(number, f"RFC {number}")
    return Reference(id=ref, summary=title + (f", section {section}" if section else ""), sources=(url,))


def resolve(ref: str) -> Reference | None:
    """The reference an id, an RFC citation or a URL stands for; None when it is unknown."""
    if ref.startswith("https://"):
        return Reference(id=ref, summary=ref, sources=(ref,))
    return catalogue().get(ref) or _rfc(ref)


def link(ref: str) -> tuple[str, str] | None:
    """(name, url) for an Allure link, or None for an unknown id."""
    found = resolve(ref)
    return (found.id, found.url) if found else None


def explain(ref: str) -> str:
    """One line for a failure report: `id — summary (url)`; an unknown id is shown as it is."""
    found = resolve(ref)
    if found is None:
        return ref
    if found.summary == found.url:
        return found.url
    return f"{found.id} — {found.summary} ({found.url})"


def reference_lines(refs: Iterable[str], why: str = "", limit: int = MAX_EXPLAINED) -> list[str]:
    """The failure report's lines on where an expectation comes from: `why`, then one line per reference."""
    lines = [f"Why: {why}"] if why else []
    unique = list(dict.fromkeys(refs))
    if unique:
        lines.append("References:")
        lines += [f"  {explain(ref)}" for ref in unique[:limit]]
        if len(unique) > limit:
            lines.append(f"  … {len(unique) - limit} more: {', '.join(unique[limit:])} (see {DOCS_PAGE})")
    return lines


def _cited(data: Any) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """(pointer, refs value) of every place a file of any kind may cite references."""
    if not isinstance(data, dict):
        return
    yield ("refs",), data.get("refs")
    steps: list[tuple[tuple[str | int, ...], Any]] = [(("steps",), data.get("steps"))]
    sequences = data.get("sequences")
    if isinstance(sequences, dict):
        steps += [(("sequences", name, "steps"), body.get("steps"))
                  for name, body in sequences.items() if isinstance(body, dict)]
    for pointer, listed in steps:
        for index, step in enumerate(listed if isinstance(listed, list) else []):
            if isinstance(step, dict):
                yield (*pointer, index, "refs"), step.get("refs")


def reference_problems(data: Any, source: SourceMap) -> list[Problem]:
    """An `unknown reference id` problem, at its line, for every cited id the catalogue lacks."""
    problems = []
    for pointer, refs in _cited(data):
        for index, ref in enumerate(refs if isinstance(refs, list) else []):
            if isinstance(ref, str) and resolve(ref) is None:
                problems.append(source.problem((*pointer, index),
                                               f"unknown reference id {ref!r} (see {DOCS_PAGE})"))
    return problems


def render_markdown() -> str:
    """docs/references.md: one entry per id, in catalogue order."""
    lines = [
        "# References",
        "",
        "<!-- Generated from conformance/engine/references.yaml by "
        "`python -m conformance.engine.references > docs/references.md`; edit the YAML, not this page. -->",
        "",
        "Scenarios, shared steps and IdP profiles cite their sources under `refs:` with the ids below.",
        "An RFC section is cited as `RFC 7644 §3.5.2` and links to",
        "`https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2`; it needs no entry here.",
        "Entries marked *secondary* rest on a third party (an integrator's guide or an issue thread),",
        "not on the IdP vendor's own documentation. `scim-conformance lint` rejects an id that is not listed.",
        "",
    ]
    for ref in catalogue().values():
        lines.append(f"## `{ref.id}`")
        lines.append("")
        lines.append(ref.summary + (" *(secondary)*" if ref.secondary else ""))
        lines.append("")
        lines += [f"- <{url}>" for url in ref.sources]
        if ref.note:
            lines += ["", ref.note]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
