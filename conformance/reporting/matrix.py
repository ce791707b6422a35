"""The compatibility matrix and certification levels, read back from a run's Allure results.

Rows are scenarios, columns IdP profiles, cells the outcome: pass, fail, error (harness or
scenario problem), known (a deviation the target profile lists), skip. An IdP is certified when
every `must` scenario replayed as it passed; the summary names the `should` items that failed.
Written as Markdown, JSON (valid against `matrix.schema.json`) and one SVG badge per IdP.

The Allure results are the one record of a run (they survive xdist workers and reruns), so the
matrix is built from them, not from pytest's memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from conformance import __version__
from conformance.engine.schema_validator import SchemaValidator

__all__ = ["Certification", "Matrix", "Outcome", "badge_svg", "read_results", "write_matrix"]

STATUSES = ("pass", "fail", "error", "known", "skip")
SYMBOL = {"pass": "✅ pass", "fail": "❌ fail", "error": "⚠️ error", "known": "🟡 known", "skip": "⏭ skip"}


@dataclass(frozen=True)
class Outcome:
    """One scenario replayed as one IdP."""

    scenario: str
    idp: str
    idp_name: str
    level: str
    title: str
    family: str
    status: str  # one of STATUSES
    message: str
    stop: int  # epoch ms: a later result of the same item replaces an earlier one


def _status(result: dict[str, Any]) -> str:
    status = result.get("status")
    message = (result.get("statusDetails") or {}).get("message") or ""
    if status == "passed":
        return "pass"
    if status == "failed":
        return "fail"
    if status == "broken":
        return "error"
    return "known" if message.startswith("XFAIL") else "skip"


def read_results(results_dir: Path) -> list[Outcome]:
    """Every scenario item found in `results_dir` (other tests' results are ignored)."""
    latest: dict[tuple[str, str], Outcome] = {}
    for path in sorted(results_dir.glob("*-result.json")):
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        labels = {label.get("name"): label.get("value") for label in result.get("labels", [])}
        if "scim_scenario" not in labels or "scim_idp" not in labels:
            continue
        message = ((result.get("statusDetails") or {}).get("message") or "").strip()
        outcome = Outcome(
            scenario=labels["scim_scenario"], idp=labels["scim_idp"], idp_name=labels.get("story", labels["scim_idp"]),
            level=labels.get("scim_level", "must"),
            title=labels.get("feature", labels["scim_scenario"]), family=labels.get("parentSuite", ""),
            status=_status(result), message=message.splitlines()[0] if message else "",
            stop=int(result.get("stop") or 0),
        )
        key = (outcome.scenario, outcome.idp)
        if key not in latest or latest[key].stop <= outcome.stop:
            latest[key] = outcome
    return sorted(latest.values(), key=lambda o: (o.family, o.scenario, o.idp))


@dataclass(frozen=True)
class Certification:
    """Where one IdP stands: every must passed (certified), or which did not."""

    idp: str
    name: str
    passed: int
    ran: int  # items that ran (not skipped)
    must_not_passed: tuple[str, ...]
    must_skipped: tuple[str, ...]
    should_failed: tuple[str, ...]

    @property
    def level(self) -> str:
        if self.must_not_passed:
            return "not certified"
        if self.must_skipped:
            return "certified for the target's declared capabilities"
        return "certified"

    @property
    def color(self) -> str:
        return {"certified": "#2e7d32", "not certified": "#c62828"}.get(self.level, "#f9a825")


@dataclass(frozen=True)
class Matrix:
    outcomes: tuple[Outcome, ...]

    @property
    def idps(self) -> list[str]:
        return sorted({o.idp for o in self.outcomes})

    @property
    def scenarios(self) -> list[Outcome]:
        """One representative outcome per scenario (for its id, title, level, family), in order."""
        seen: dict[str, Outcome] = {}
        for outcome in self.outcomes:
            seen.setdefault(outcome.scenario, outcome)
        return list(seen.values())

    def cell(self, scenario: str, idp: str) -> Outcome | None:
        return next((o for o in self.outcomes if o.scenario == scenario and o.idp == idp), None)

    def certification(self, idp: str) -> Certification:
        mine = [o for o in self.outcomes if o.idp == idp]
        return Certification(
            idp=idp,
            name=mine[0].idp_name if mine else idp,
            passed=sum(o.status == "pass" for o in mine),
            ran=sum(o.status != "skip" for o in mine),
            must_not_passed=tuple(o.scenario for o in mine
                                  if o.level == "must" and o.status in ("fail", "error", "known")),
            must_skipped=tuple(o.scenario for o in mine if o.level == "must" and o.status == "skip"),
            should_failed=tuple(o.scenario for o in mine
                                if o.level == "should" and o.status in ("fail", "error", "known")),
        )

    def to_json(self, target: str | None = None) -> dict[str, Any]:
        return {
            "tool": {"name": "scim-conformance", "version": __version__},
            "target": target,
            "idps": [
                {"id": c.idp, "name": c.name, "level": c.level, "passed": c.passed, "ran": c.ran,
                 "mustNotPassed": list(c.must_not_passed), "mustSkipped": list(c.must_skipped),
                 "shouldFailed": list(c.should_failed)}
                for c in map(self.certification, self.idps)
            ],
            "scenarios": [
                {"id": s.scenario, "title": s.title, "family": s.family, "level": s.level,
                 "results": {o.idp: {"status": o.status, "message": o.message}
                             for o in self.outcomes if o.scenario == s.scenario}}
                for s in self.scenarios
            ],
        }

    def to_markdown(self, target: str | None = None) -> str:
        lines = ["# SCIM compatibility matrix", ""]
        if target:
            lines += [f"Target: `{target}`, scim-conformance {__version__}.", ""]
        lines += ["| IdP | Result | Passed | Must not passed | Should failed |", "|---|---|---|---|---|"]
        for c in map(self.certification, self.idps):
            lines.append(f"| {c.idp} | {c.level} | {c.passed}/{c.ran} | {', '.join(c.must_not_passed) or '-'} "
                         f"| {', '.join(c.should_failed) or '-'} |")
        lines += ["", "| Scenario | Level | " + " | ".join(self.idps) + " |",
                  "|---|---|" + "---|" * len(self.idps)]
        for s in self.scenarios:
            cells = []
            for idp in self.idps:
                outcome = self.cell(s.scenario, idp)
                cells.append(SYMBOL[outcome.status] if outcome else "")
            lines.append(f"| `{s.scenario}` {s.title} | {s.level} | " + " | ".join(cells) + " |")
        lines += ["", "pass: every step passed; fail: the target answered something the scenario does not "
                  "accept; error: the scenario or harness could not run it; known: a deviation the target "
                  "profile lists under expected_failures; skip: the target lacks a capability it needs."]
        return "\n".join(lines) + "\n"


def badge_svg(label: str, message: str, color: str) -> str:
    """A flat badge like the ones READMEs show, without fetching anything."""
    def width(text: str) -> int:
        return 10 + int(sum(7.2 if c.isupper() or c.isdigit() else 6.1 for c in text))

    left, right = width(label), width(message)
    total = left + right
    label_x, message_x = left / 2, left + right / 2
    text = f"{escape(label)}: {escape(message)}"
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{text}">
<title>{text}</title>
<rect width="{left}" height="20" fill="#555"/><rect x="{left}" width="{right}" height="20" fill="{color}"/>
<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">
<text x="{label_x}" y="14">{escape(label)}</text><text x="{message_x}" y="14">{escape(message)}</text>
</g></svg>
"""


@cache
def _validator() -> SchemaValidator:
    schema = json.loads(resources.files(__package__).joinpath("matrix.schema.json").read_text("utf-8"))
    return SchemaValidator(schema)


def validate_matrix(data: dict[str, Any]) -> list[str]:
    return [error.message for error in _validator().iter_errors(data)]


def write_matrix(results_dir: Path, out_dir: Path, target: str | None = None) -> Matrix:
    """matrix.md, matrix.json and badges/<idp>.svg in `out_dir`, from the results in `results_dir`."""
    matrix = Matrix(tuple(read_results(results_dir)))
    out_dir.mkdir(parents=True, exist_ok=True)
    data = matrix.to_json(target)
    problems = validate_matrix(data)
    if problems:  # our own output: a bug here must not ship a file others parse
        raise RuntimeError(f"matrix.json does not match its schema: {problems[0]}")
    (out_dir / "matrix.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out_dir / "matrix.md").write_text(matrix.to_markdown(target), encoding="utf-8")
    badges = out_dir / "badges"
    badges.mkdir(exist_ok=True)
    for certification in map(matrix.certification, matrix.idps):
        svg = badge_svg(certification.name, f"{certification.passed}/{certification.ran}", certification.color)
        (badges / f"{certification.idp}.svg").write_text(svg, encoding="utf-8")
    return matrix
