"""Which scenario items a target runs, skips or expects to fail, and why, without sending anything.

`scim-conformance list --target T` prints this plan. The rules are the plugin's (conformance.pytest_plugin.plugin
`_mark` and the runner's `when`): an item is skipped when the target does not meet one of the
scenario's `requires` conditions, it is a known deviation (XFAIL) when the target profile lists it
under `expected_failures`, and otherwise it runs, without the steps whose `when` condition the
target does not meet. The reason texts are the ones a run prints with `-rsx`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from conformance.engine.profiles import TargetProfile
from conformance.engine.redact import redactor
from conformance.engine.scenario.model import Scenario

__all__ = ["PlannedItem", "plan", "render_plan", "skip_reason"]

RUN, SKIP, KNOWN = "run", "skip", "known"
_LABEL = {RUN: "RUN", SKIP: "SKIP", KNOWN: "XFAIL"}


@dataclass(frozen=True)
class PlannedItem:
    """One scenario replayed as one IdP, and what a run against the target does with it."""

    scenario: Scenario
    idp: str
    outcome: str  # RUN, SKIP or KNOWN
    reason: str = ""
    # For items that run: the `when` conditions the target does not meet, with how many steps each
    # leaves out (e.g. {"delete_users": 3}).
    skipped_steps: tuple[tuple[str, int], ...] = ()

    @property
    def node(self) -> str:
        return f"{self.scenario.id}[{self.idp}]"

    @property
    def note(self) -> str:
        """The reason, or for a running item the steps it leaves out."""
        if self.reason:
            return self.reason
        if not self.skipped_steps:
            return ""
        parts = [f"{count} need(s) '{condition}'" for condition, count in self.skipped_steps]
        return "skipped steps: " + ", ".join(parts)


def skip_reason(scenario: Scenario, target: TargetProfile) -> str | None:
    """Why the target skips the scenario (its unmet `requires`), or None when it runs it."""
    unmet = [c.text for c in scenario.requires if not c.holds(target.capabilities)]
    if not unmet:
        return None
    return f"target {target.id!r} does not meet {', '.join(unmet)} (scenario requires it)"


def plan(scenarios: Iterable[Scenario], target: TargetProfile, idps: Iterable[str] = ()) -> list[PlannedItem]:
    """Every item of `scenarios` (as each listed IdP, or only those in `idps`) and its outcome."""
    wanted = set(idps)
    items: list[PlannedItem] = []
    for scenario in scenarios:
        skipped = Counter(step.when.text for step in scenario.steps
                          if step.when is not None and not step.when.holds(target.capabilities))
        for idp in scenario.idps:
            if wanted and idp not in wanted:
                continue
            reason = skip_reason(scenario, target)
            if reason:
                items.append(PlannedItem(scenario, idp, SKIP, reason))
                continue
            known = target.known_failure(scenario.id, idp)
            if known:
                items.append(PlannedItem(scenario, idp, KNOWN, f"known deviation of target {target.id!r}: {known}"))
                continue
            items.append(PlannedItem(scenario, idp, RUN, skipped_steps=tuple(sorted(skipped.items()))))
    return items


def render_plan(items: Sequence[PlannedItem], target: TargetProfile) -> str:
    """The plan as the `list --target` command prints it: a header, one line per item, a tally."""
    where = "embedded scim2-server on 127.0.0.1" if target.embedded else redactor.text(target.base_url or "")
    profile = f" (profile {target.path})" if target.path else ""
    lines = [
        f"Target {target.id}: {where}{profile}",
        f"Capabilities: {', '.join(sorted(target.capabilities))}",
        "",
    ]
    width = max((len(item.node) for item in items), default=0)
    for item in items:
        note = item.note
        lines.append(f"{_LABEL[item.outcome]:<6} {item.node:<{width}}  {note}".rstrip())
    tally = Counter(item.outcome for item in items)
    lines += [
        "",
        f"{len(items)} item(s): {tally[RUN]} run, {tally[SKIP]} skipped, "
        f"{tally[KNOWN]} known deviation(s) (XFAIL)",
    ]
    if tally[SKIP]:
        lines.append("Skipped items need a capability the target profile does not declare (capabilities:).")
    return "\n".join(lines)
