"""`scim-conformance show FILE --idp ID`: a scenario as that IdP would send it, without sending anything.

Shared sequences are expanded and IdP request templates rendered in the scenario's own scope, with
sample values from the fake-data generator. What only the target's answers can tell (the ids and
values a step captures) is shown as a placeholder such as `<user_id>`; the token as `$SCIM_TOKEN`.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conformance.commands.exit_codes import EXIT_PROBLEMS, EXIT_USAGE
from conformance.engine.errors import HarnessError, ScenarioFileError
from conformance.engine.exchange import INVALID_TOKEN
from conformance.engine.fakedata import RunData
from conformance.engine.paths import find_profiles_dir
from conformance.engine.profiles import DEFAULT_CAPABILITIES, IdpProfile, load_idp_profiles
from conformance.engine.redact import Redactor
from conformance.engine.scenario.loader import SCENARIO_SUFFIX, load_scenario
from conformance.engine.scenario.model import Scenario, Step
from conformance.engine.templating import TemplateError, render

__all__ = ["SAMPLE_RUN_ID", "add_parser", "cmd_show", "show_scenario"]

SAMPLE_RUN_ID = "sample"
SAMPLE_BASE_URL = "https://scim.example.com/scim/v2"
TOKEN_SHOWN = "$SCIM_TOKEN"
EXPECT_WIDTH = 110  # the expectations stay on one line: longer ones are cut with "…"


class _Scope:
    """The names a run would have, step by step, with placeholders where an answer would fill one in."""

    def __init__(self, scenario: Scenario, idp: IdpProfile, redactor: Redactor) -> None:
        data = RunData(SAMPLE_RUN_ID, on_secret=redactor.add_secret)
        self.values: dict[str, Any] = {
            "run_id": data.run_id,
            "fake": data,
            "idp": {"id": idp.id, "name": idp.name},
            "target": {"base_url": SAMPLE_BASE_URL, "capabilities": sorted(DEFAULT_CAPABILITIES)},
        }
        for name, value in scenario.vars.items():
            self.values[name] = self.render(value)

    def render(self, value: Any) -> Any:
        """`value` rendered; a part that needs a value only an answer has stays as its template."""
        try:
            return render(value, self.values)
        except TemplateError:
            if isinstance(value, dict):
                return {key: self.render(item) for key, item in value.items()}
            if isinstance(value, list):
                return [self.render(item) for item in value]
            return value  # e.g. ${set(current, ...)} where `current` is a whole answer body

    def after(self, step: Step) -> None:
        """What the step keeps from its answer(s), as placeholders."""
        for name, expression in step.capture.items():
            # A whole body stays a mapping, so that ${set(current, 'active', false)} still shows its change.
            whole_body = expression.strip() == "body"
            self.values[name] = {"…": f"<{name}: the answer's body>"} if whole_body else f"<{name}>"
        times = step.repeat or 1
        for name in step.collect:
            kept = self.values.get(name)
            kept = kept if isinstance(kept, list) else []
            self.values[name] = [*kept, *(f"<{name} {len(kept) + i}>" for i in range(1, times + 1))]


def _merge_headers(*layers: dict[str, str | None] | None) -> list[tuple[str, str]]:
    """Headers in the order they are set; a later one replaces an earlier one whatever its case, None removes."""
    merged: dict[str, tuple[str, str]] = {}
    for layer in layers:
        for name, value in (layer or {}).items():
            if value is None:
                merged.pop(name.lower(), None)
            else:
                merged[name.lower()] = (name, str(value))
    return list(merged.values())


def _query_text(query: dict[str, Any] | None) -> str:
    """The query as a reader wants it: not percent-encoded, booleans as JSON, null parameters left out."""
    if not query:
        return ""
    shown = [f"{key}={json.dumps(value) if isinstance(value, bool) else value}"
             for key, value in query.items() if value is not None]
    return "?" + "&".join(shown) if shown else ""


def _one_line(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _expect_line(expect: dict[str, Any]) -> str:
    parts = []
    for name, argument in expect.items():
        if name == "status" and isinstance(argument, list):
            parts.append("status " + " or ".join(str(code) for code in argument))
        else:
            parts.append(f"{name} {_one_line(argument)}")
    line = "expect: " + (" · ".join(parts) if parts else "any answer")
    return line if len(line) <= EXPECT_WIDTH else line[:EXPECT_WIDTH - 1] + "…"  # cut after redaction


def _step_notes(step: Step) -> str:
    notes = []
    if step.via:
        notes.append(f"from {step.via}")
    if step.when is not None:
        notes.append(f"only when the target is '{step.when.text}'")
    if step.repeat:
        notes.append(f"sent {step.repeat} times" + (" at once" if step.concurrent else "")
                     + ", the first shown")
    if step.paginate is not None:
        notes.append(f"page by page, {step.paginate.count} per page, the first shown")
    return f"  [{'; '.join(notes)}]" if notes else ""


def _step_lines(step: Step, number: int, idp: IdpProfile, scope: _Scope, redactor: Redactor) -> Iterator[str]:
    yield f"{number}. {step.name}{_step_notes(step)}"
    if step.description:
        yield from textwrap.wrap(step.description, width=100, initial_indent="   ", subsequent_indent="   ")
    if step.repeat:
        scope.values["index"] = 1
    for name, value in step.vars.items():
        scope.values[name] = scope.render(value)
    request = idp.resolve(step.request)
    query = scope.render(request.query) if request.query else None
    if step.paginate is not None:
        query = {**(query or {}), "startIndex": 1, "count": step.paginate.count}
    path = str(scope.render(request.path))
    path = path if path.startswith("/") else f"/{path}"
    yield f"   {request.method} {redactor.text(path + _query_text(query))}"
    authorization = {"default": f"Bearer {TOKEN_SHOWN}", "invalid": f"Bearer {INVALID_TOKEN}"}.get(request.auth)
    headers = _merge_headers({"Authorization": authorization} if authorization else None, idp.headers,
                             idp.body_headers if request.has_body else None,
                             scope.render(request.headers) if request.headers else None)
    for name, value in headers:
        # Only the two fixed texts above show as they are: any other credential is masked.
        shown = value if authorization and value == authorization else redactor.header(name, value)
        yield f"   {name}: {shown}"
    if request.has_body:
        body = scope.render(request.body)
        yield from ("   " + line for line in redactor.json(body).splitlines())
    yield "   " + _expect_line(redactor.data(scope.render(step.expect)))
    kept = [f"{name} ← {expression}" for name, expression in {**step.capture, **step.collect}.items()]
    if kept:
        yield "   keeps: " + ", ".join(kept)
    scope.after(step)


def show_scenario(scenario: Scenario, idp: IdpProfile) -> str:
    """The whole text `show` prints for one scenario and one IdP profile."""
    redactor = Redactor()  # generated passwords are learnt as they are made, and never shown
    scope = _Scope(scenario, idp, redactor)
    lines = [
        f"Scenario {scenario.id}: {scenario.title}",
        f"As {idp.name} ({idp.id}), from {scenario.path}",
        f"Sample values (run id {SAMPLE_RUN_ID!r}); what the target's answers give is shown as <name>, "
        f"the token as {TOKEN_SHOWN}.",
    ]
    for number, step in enumerate(scenario.steps, start=1):
        lines.append("")
        lines.extend(_step_lines(step, number, idp, scope, redactor))
    return "\n".join(lines) + "\n"


def cmd_show(args: argparse.Namespace) -> int:
    """Print the scenario FILE as the IdP would send it; problems in the files as `path:line: message`."""
    path = Path(args.file)
    try:
        if not path.is_file():
            raise HarnessError(f"{path}: no such file")
        if not path.name.endswith(SCENARIO_SUFFIX):
            raise HarnessError(f"{path}: not a scenario (a scenario file ends in {SCENARIO_SUFFIX})")
        profiles_dir = Path(args.profiles) if args.profiles else find_profiles_dir()
        idps = load_idp_profiles(profiles_dir)
        scenario = load_scenario(path, idps)
        idp_id = args.idp or scenario.idps[0]
        if idp_id not in idps:
            raise HarnessError(f"unknown IdP profile {idp_id!r} (known: {', '.join(sorted(idps))})")
        if idp_id not in scenario.idps:
            raise HarnessError(f"scenario {scenario.id!r} is not replayed as {idp_id!r} "
                               f"(its idps: {', '.join(scenario.idps)})")
    except ScenarioFileError as exc:
        for problem in exc.problems:
            print(problem)
        return EXIT_PROBLEMS
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(show_scenario(scenario, idps[idp_id]))
    return 0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register `show` on the command line's subcommands."""
    show = commands.add_parser(
        "show", help="print a scenario as one IdP would send it (nothing is sent)",
        description="Print, step by step, the requests the IdP would send for a scenario: shared steps "
                    "expanded, IdP request templates rendered with sample values, and what each step "
                    "expects. Ids the target would return are shown as <name>; nothing is sent.",
        epilog="example: scim-conformance show scenarios/entra/update-user.scenario.yaml --idp entra")
    show.add_argument("file", help="a scenario file (*.scenario.yaml)")
    show.add_argument("--idp", metavar="ID", help="the IdP profile to replay it as (default: the scenario's first)")
    show.add_argument("--profiles", metavar="DIR", help="profiles folder (default: the nearest profiles/)")
    show.set_defaults(handler=cmd_show)
    return show
