"""Pass 2 of the compiler, value by value: a recorded value -> its template text.

What pass 1 (`analysis`) found is substituted wherever it occurs: a captured id becomes
`${user_1_id}`, personal data `${user_1.userName}`, a secret is never written, and the rest of the
text is escaped so that a literal `${` does not start an expression.
"""

from __future__ import annotations

import re
from typing import Any

from conformance.engine.redact import MASK
from conformance.recording.analysis import Analysis
from conformance.recording.traffic import comparisons

__all__ = ["DROP", "Templater", "escape_literal"]

_SUBSTRING_MIN = 6  # shorter personal values are replaced only where they are a whole string
_GENERATED_SUBSTRING_MIN = 8  # ids like "1" or "42" are replaced only as whole values and path segments
DROP: Any = object()  # an expected value left out of a `json` check


class Templater:
    """Pass 2: recorded values as templates, substituting what pass 1 found (see the module docstring)."""

    def __init__(self, analysis: Analysis) -> None:
        self.analysis = analysis
        self.etags = 0
        keys: list[tuple[str, bool]] = []  # (value, needs word boundaries)
        for value in analysis.values:
            if "\0" in value:
                continue
            secret = value in analysis.secrets
            if (secret and len(value) >= 4) or len(value) >= _SUBSTRING_MIN:
                keys.append((value, not secret))
        for value in analysis.generated:
            if len(value) >= _GENERATED_SUBSTRING_MIN:
                keys.append((value, True))
        for value in analysis.secrets:
            if len(value) >= 4 and value not in analysis.values:
                keys.append((value, False))
        keys.sort(key=lambda item: -len(item[0]))
        parts = [(rf"(?<![A-Za-z0-9]){re.escape(v)}(?![A-Za-z0-9])" if bounded else re.escape(v))
                 for v, bounded in keys]
        self.pattern = re.compile("|".join(parts)) if parts else None

    # -- values

    def generated(self, value: str, step: int) -> str | None:
        """`${name}` for a generated value captured before `step`, else None."""
        found = self.analysis.generated.get(value)
        if found is None or found.step >= step:
            return None
        if found.name is None:
            if found.entity is not None:
                found.name = f"{found.entity.name}_id"
            else:
                self.etags += 1
                found.name = f"etag_{self.etags}"
        return "${" + found.name + "}"

    def personal(self, value: str) -> str | None:
        """The generated stand-in for a personal value or secret (its person is then used), else None."""
        found = self.analysis.values.get(value)
        if found is None:
            return None
        if found.person is not None:
            found.person.used = True
        return found.template

    def replacement(self, value: str, step: int, *, id_context: bool = True) -> tuple[str | None, bool]:
        """(template, blocked): blocked means a generated value that is not captured yet.

        A short generated value ("7") is an id only where ids stand (`id_context`: path
        segments, `id` and `value` keys, ETag headers), not in every string that happens to be "7".
        """
        if value in self.analysis.generated and value not in self.analysis.external_ids and (
                id_context or len(value) >= _GENERATED_SUBSTRING_MIN):
            template = self.generated(value, step)
            return template, template is None
        if value in self.analysis.secrets and value not in self.analysis.values:
            return MASK, False
        return self.personal(value), False

    def text(self, value: str, step: int, *, expect: bool, id_context: bool = False,
             spans: list[tuple[int, int, str]] | None = None) -> Any:
        """`value` with every known value replaced by its template and the rest escaped.

        In an expectation, a string that still holds a server-generated value that is not
        captured yet, or a secret, is dropped (`DROP`): it would differ on the next run.
        """
        whole, blocked = self.replacement(value, step, id_context=id_context)
        if expect and (blocked or whole == MASK):
            return DROP
        if whole is not None:
            return whole
        if blocked:
            return escape_literal(value)
        pieces: list[tuple[int, int, str | None]] = list(spans or [])
        if self.pattern is not None:
            for match in self.pattern.finditer(value):
                if any(start < match.end() and match.start() < end for start, end, _ in pieces):
                    continue
                template, blocked = self.replacement(match.group(0), step, id_context=False)
                if expect and (blocked or template == MASK):
                    return DROP
                if template is not None:
                    pieces.append((match.start(), match.end(), template))
        pieces.sort()
        out, position = [], 0
        for start, end, template in pieces:
            literal = escape_literal(value[position:start])
            if literal.endswith("$") and template is not None:
                template = escape_literal(value[start:end])  # "$" + "${" would read as the escape "$${"
            out.append(literal + (template or ""))
            position = end
        out.append(escape_literal(value[position:]))
        return "".join(out)

    def filter_text(self, value: str, step: int, *, expect: bool) -> Any:
        """A filter (or PATCH path): quoted `eq` values are replaced inside their quotes."""
        spans: list[tuple[int, int, str]] = []
        for path, literal_value, match in comparisons(value):
            is_id = bool(path) and path[-1] in ("id", "value")
            template, _ = self.replacement(literal_value, step, id_context=is_id)
            if template is not None and template != MASK:
                start, end = match.span("lit")
                spans.append((start + 1, end - 1, template))
        return self.text(value, step, expect=expect, spans=spans)

    def data(self, value: Any, step: int, *, expect: bool, secrets: dict[tuple, str] | None = None,
             pointer: tuple = ()) -> Any:
        """A JSON value with every string templated (request bodies: expect=False)."""
        if secrets and pointer in secrets:
            return self.personal(secrets[pointer])
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                rendered = self.data(item, step, expect=expect, secrets=secrets, pointer=(*pointer, key))
                if rendered is DROP:
                    continue
                out[escape_literal(str(key))] = rendered
            return out
        if isinstance(value, list):
            items = [self.data(item, step, expect=expect, secrets=secrets, pointer=(*pointer, i))
                     for i, item in enumerate(value)]
            kept = [item for item in items if item is not DROP]
            return DROP if expect and value and not kept else kept
        if isinstance(value, str):
            key = next((str(k).lower() for k in reversed(pointer) if isinstance(k, str)), "")
            if key in ("path", "filter") and not expect:
                return self.filter_text(value, step, expect=False)
            return self.text(value, step, expect=expect, id_context=key in ("id", "value"))
        return value


def escape_literal(text: str) -> str:
    """Literal text for a templated value: `${` must not start an expression."""
    return text.replace("${", "$${")

