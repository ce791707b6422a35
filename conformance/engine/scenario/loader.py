"""Loading scenario files: YAML with line numbers -> schema check -> expansion -> static checks.

Everything that can be known before a request is sent is checked here, and every problem is
reported as `path:line: message`: bad YAML, unknown keys, wrong types, unknown checks or check
arguments, unknown shared sequences or IdP request templates, template syntax errors and
templates that reference a name that is not defined at that point of the scenario.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.engine.checks import CHECKS
from conformance.engine.conditions import Condition, ConditionError, parse_condition
from conformance.engine.errors import Problem, ScenarioFileError
from conformance.engine.paths import shipped_dir
from conformance.engine.profiles import CAPABILITIES, IdpProfile, request_from_mapping
from conformance.engine.scenario.builtins import builtin_misuse
from conformance.engine.scenario.model import (
    BUILTIN_KEYS,
    BUILTIN_NAMES,
    MAX_STEP_NAME,
    Location,
    Pagination,
    Scenario,
    Step,
)
from conformance.engine.scenario.validation import schema_problems
from conformance.engine.scenario.yamlsrc import SourceMap, load_yaml, strings_with_pointers
from conformance.engine.templating import TemplateError, parse_template, referenced_names

__all__ = [
    "BUILTIN_NAMES",
    "CAPTURE_NAMES",
    "SCENARIO_SUFFIX",
    "STEPS_SUFFIX",
    "SharedSequence",
    "load_scenario",
    "load_shared_steps",
    "step_name_problem",
]

SCENARIO_SUFFIX = ".scenario.yaml"
STEPS_SUFFIX = ".steps.yaml"
# Names a capture expression may use: the parsed response body, its headers, its status.
CAPTURE_NAMES = frozenset({"body", "headers", "status"})
# Tags become pytest markers; these names already mean something to pytest or to this plugin.
RESERVED_TAGS = frozenset({
    "skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings", "timeout",
    "must", "should", "may", "scim_scenario",
})


@dataclass(frozen=True)
class SharedSequence:
    """A named list of steps that many scenarios include with `use:`."""

    name: str
    params: tuple[str, ...]  # what it takes: names the caller provides (`with:` or its own scope)
    steps: tuple[dict[str, Any], ...]
    source: SourceMap
    pointer: tuple[str | int, ...]
    description: str = ""
    captures: tuple[str, ...] = ()  # what it gives back: the only names the caller sees afterwards


def step_name_problem(raw: Mapping[str, Any], source: SourceMap, pointer: tuple) -> Problem | None:
    """A step name over MAX_STEP_NAME characters: it clutters pytest, Allure and failure reports."""
    name = raw.get("name")
    if isinstance(name, str) and len(name) > MAX_STEP_NAME:
        return source.problem((*pointer, "name"), f"step name is {len(name)} characters long (at most "
                              f"{MAX_STEP_NAME}): keep it short and put the rest in `description:`")
    return None


def _sequence_problems(name: str, body: Mapping[str, Any], source: SourceMap) -> list[Problem]:
    """Step names, and captures against the sequence's `captures:` declaration, both ways."""
    problems: list[Problem] = []
    declared = body.get("captures", [])
    kept: set[str] = set()
    for index, step in enumerate(body["steps"]):
        pointer = ("sequences", name, "steps", index)
        problem = step_name_problem(step, source, pointer)
        if problem is not None:
            problems.append(problem)
        kept.update(step.get("vars", {}))
        for key in ("capture", "collect"):
            for captured in step.get(key, {}):
                kept.add(captured)
                if captured not in declared:
                    problems.append(source.problem(
                        (*pointer, key, captured), f"sequence {name!r} captures {captured!r} but does not "
                        "declare it: add it to the sequence's `captures:`"))
    for index, captured in enumerate(declared):
        if captured not in kept:
            problems.append(source.problem(
                ("sequences", name, "captures", index), f"sequence {name!r} declares it captures {captured!r}, "
                "but no step of it captures, collects or sets that name"))
    return problems


def load_shared_steps(paths: Iterable[Path]) -> dict[str, SharedSequence]:
    """Every sequence in the given `*.steps.yaml` files, by name; problems raised together."""
    sequences: dict[str, SharedSequence] = {}
    problems: list[Problem] = []
    for path in sorted(paths):
        try:
            document = load_yaml(path)
        except ScenarioFileError as exc:
            problems.extend(exc.problems)
            continue
        found = schema_problems(document, "steps")
        if found:
            problems.extend(found)
            continue
        for name, body in document.data["sequences"].items():
            pointer = ("sequences", name)
            if name in sequences:
                problems.append(document.source.problem(
                    pointer, f"sequence {name!r} is also defined in {sequences[name].source.path}"))
                continue
            problems.extend(_sequence_problems(name, body, document.source))
            sequences[name] = SharedSequence(
                name=name,
                params=tuple(body.get("params", ())),
                captures=tuple(body.get("captures", ())),
                steps=tuple(body["steps"]),
                source=document.source,
                pointer=(*pointer, "steps"),
                description=body.get("description", ""),
            )
    if problems:
        raise ScenarioFileError(problems)
    return sequences


def shared_step_files(scenario_path: Path) -> list[Path]:
    """The `*.steps.yaml` files of the nearest `shared/` folder at or above the scenario's folder."""
    for folder in scenario_path.resolve().parents:
        shared = folder / "shared"
        if shared.is_dir():
            return sorted(shared.glob(f"*{STEPS_SUFFIX}"))
    return []


def shared_sequences_for(scenario_path: Path) -> dict[str, SharedSequence]:
    """The sequences a scenario can `use`: the shipped ones, and those of its nearest `shared/`
    folder on top (a team's own suite reuses ours and may replace a sequence by its name)."""
    own = shared_step_files(scenario_path)
    shipped_root = shipped_dir("scenarios")
    shipped = sorted((shipped_root / "shared").glob(f"*{STEPS_SUFFIX}")) if shipped_root else []
    if not shipped or (own and own[0].parent.resolve() == shipped[0].parent.resolve()):
        return load_shared_steps(own)
    return {**load_shared_steps(shipped), **load_shared_steps(own)}


class _Checker:
    """Collects the problems of one scenario while walking its scope step by step."""

    def __init__(self, idps: Mapping[str, IdpProfile], scenario_idps: list[str]) -> None:
        self.problems: list[Problem] = []
        self.idps = idps
        self.scenario_idps = [i for i in scenario_idps if i in idps]

    def names(self, value: Any, scope: set[str], source: SourceMap, pointer: tuple, what: str,
              hint: str = "") -> None:
        """Check every template inside `value`, each reported at its own line."""
        for where, text in strings_with_pointers(value, pointer):
            try:
                used, _ = referenced_names(text)
            except TemplateError as exc:
                self.problems.append(source.problem(where, f"{what}: {exc}"))
                continue
            for name in sorted(used - scope):
                self.problems.append(source.problem(
                    where, f"{what}: template references undefined name {name!r} "
                    f"(defined here: {', '.join(sorted(scope))})" + (f"; {hint}" if hint else "")))
            self.problems += [source.problem(where, f"{what}: {problem}")
                              for problem in builtin_misuse(text, BUILTIN_KEYS)]

    def defines(self, names: Iterable[str], source: SourceMap, pointer: tuple) -> None:
        """Names a scenario defines (vars, captures, `with:`) must not hide a built-in its templates rely on."""
        self.problems += [source.problem((*pointer, name), f"{pointer[-1]}.{name}: {name!r} is a built-in name (one of "
                                         f"{', '.join(sorted(BUILTIN_NAMES))}): choose another")
                          for name in names if name in BUILTIN_NAMES]

    def step(self, raw: dict[str, Any], scope: set[str], source: SourceMap, pointer: tuple, hint: str = "") -> None:
        """Check one request step against the scope before it; then extend the scope.

        `hint` ends the message of an undefined name (inside a sequence: where to declare it).
        """
        self.step_controls(raw, scope, source, pointer, hint)
        for key in ("vars", "capture", "collect"):
            self.defines(raw.get(key, {}), source, (*pointer, key))
        for var_name, var_value in raw.get("vars", {}).items():
            self.names(var_value, scope, source, (*pointer, "vars", var_name), f"vars.{var_name}", hint)
            scope.add(var_name)
        request = raw["request"]
        self.names(request, scope, source, (*pointer, "request"), "request", hint)
        template = request.get("idp")
        if template:
            for idp_id in self.scenario_idps:
                profile = self.idps[idp_id]
                if template not in profile.requests:
                    self.problems.append(source.problem(
                        (*pointer, "request", "idp"),
                        f"IdP profile {idp_id!r} has no request template {template!r} "
                        f"(it has: {', '.join(sorted(profile.requests))})"))
                    continue
                for name in sorted(profile.request_names[template] - scope):
                    self.problems.append(source.problem(
                        (*pointer, "request", "idp"),
                        f"request template {template!r} of IdP profile {idp_id!r} "
                        f"({profile.request_origins[template]}) needs {name!r}, "
                        "which is not defined at this step" + (f"; {hint}" if hint else "")))
        for check_name, argument in raw.get("expect", {}).items():
            where = (*pointer, "expect", check_name)
            check = CHECKS.get(check_name)
            if check is None:
                self.problems.append(source.problem(
                    where, f"unknown check {check_name!r} (known: {', '.join(sorted(CHECKS))})"))
                continue
            error = next(check.argument_validator.iter_errors(argument), None)
            if error is not None:
                self.problems.append(source.problem(where, f"check {check_name!r}: {error.message}"))
            self.names(argument, scope, source, where, f"expect.{check_name}", hint)
        for key in ("capture", "collect"):
            for capture_name, expression in raw.get(key, {}).items():
                self.answer_expression(expression, source, (*pointer, key, capture_name), f"{key} {capture_name!r}")
        scope.update(raw.get("capture", {}))
        scope.update(raw.get("collect", {}))

    def step_controls(self, raw: dict[str, Any], scope: set[str], source: SourceMap, pointer: tuple,
                      hint: str = "") -> None:
        """`when`, `repeat`, `concurrent` and `paginate`: valid alone and together."""
        if "when" in raw:
            self.condition(raw["when"], source, (*pointer, "when"))
        if raw.get("concurrent") and "repeat" not in raw:
            self.problems.append(source.problem((*pointer, "concurrent"), "concurrent needs repeat: N"))
        if "paginate" in raw:
            if "repeat" in raw:
                self.problems.append(source.problem(
                    (*pointer, "paginate"), "a step cannot both paginate and repeat"))
            if "include" in raw["paginate"]:
                self.names(raw["paginate"]["include"], scope, source, (*pointer, "paginate", "include"),
                           "paginate.include", hint)
        if "repeat" in raw:
            scope.add("index")

    def condition(self, text: str, source: SourceMap, where: tuple) -> Condition | None:
        try:
            return parse_condition(text, CAPABILITIES)
        except ConditionError as exc:
            self.problems.append(source.problem(where, str(exc)))
            return None

    def answer_expression(self, expression: str, source: SourceMap, where: tuple, what: str) -> None:
        """A capture or collect expression: a path into body, headers or status."""
        try:
            parts = parse_template("${" + expression + "}")
            used, calls = referenced_names("${" + expression + "}")
        except TemplateError as exc:
            self.problems.append(source.problem(where, f"{what}: {exc}"))
            return
        # A capture reads the answer: body/headers/status paths only, no function calls.
        if len(parts) != 1 or calls or not used or used - CAPTURE_NAMES:
            self.problems.append(source.problem(
                where, f"{what}: {expression!r} must start with one of "
                f"{', '.join(sorted(CAPTURE_NAMES))} (e.g. body.id, headers.etag)"))


def load_scenario(
    path: Path,
    idps: Mapping[str, IdpProfile],
    shared: Mapping[str, SharedSequence] | None = None,
) -> Scenario:
    """Load and fully check one scenario file; raises ScenarioFileError listing every problem."""
    document = load_yaml(path)
    problems = schema_problems(document, "scenario")
    if problems:
        raise ScenarioFileError(problems)
    data = document.data
    if shared is None:
        shared = shared_sequences_for(path)
    checker = _Checker(idps, data["idps"])
    for i, tag in enumerate(data.get("tags", ())):
        if tag in RESERVED_TAGS or tag.replace("_", "-") in idps or tag.startswith("allure_"):
            checker.problems.append(document.source.problem(
                ("tags", i), f"tag {tag!r} is reserved (it is a pytest marker, a level or an IdP)"))
    for i, idp_id in enumerate(data["idps"]):
        if idp_id not in idps:
            checker.problems.append(document.source.problem(
                ("idps", i), f"unknown IdP profile {idp_id!r} (known: {', '.join(sorted(idps))})"))

    requires = []
    for i, text in enumerate(data.get("requires", ())):
        condition = checker.condition(text, document.source, ("requires", i))
        if condition is not None:
            requires.append(condition)

    scope = set(BUILTIN_NAMES)
    checker.defines(data.get("vars", {}), document.source, ("vars",))
    for var_name, var_value in data.get("vars", {}).items():
        checker.names(var_value, scope, document.source, ("vars", var_name), f"vars.{var_name}")
        scope.add(var_name)

    steps: list[Step] = []
    for index, raw in enumerate(data["steps"]):
        pointer = ("steps", index)
        if "use" not in raw:
            problem = step_name_problem(raw, document.source, pointer)
            if problem is not None:
                checker.problems.append(problem)
            checker.step(raw, scope, document.source, pointer)
            steps.append(_make_step(raw, document.source, pointer))
            continue
        sequence = shared.get(raw["use"])
        if sequence is None:
            checker.problems.append(document.source.problem(
                (*pointer, "use"), f"unknown shared sequence {raw['use']!r} "
                f"(known: {', '.join(sorted(shared)) or 'none found in a shared/ folder'})"))
            continue
        bindings = raw.get("with", {})
        checker.defines(bindings, document.source, (*pointer, "with"))
        for var_name, var_value in bindings.items():
            checker.names(var_value, scope, document.source, (*pointer, "with", var_name),
                          f"with.{var_name}")
        scope.update(bindings)
        for param in sequence.params:
            if param not in scope:
                checker.problems.append(document.source.problem(
                    (*pointer, "use"), f"shared sequence {sequence.name!r} needs {param!r}: "
                    "pass it with `with:` or define it before this step"))
        # Inside, a sequence sees only what it declares it takes; afterwards the caller sees only
        # what it declares it captures. So a sequence's names never leak in or out unannounced.
        inner_scope = set(BUILTIN_NAMES) | set(sequence.params)
        for inner, inner_raw in enumerate(sequence.steps):
            inner_pointer = (*sequence.pointer, inner)
            checker.step(inner_raw, inner_scope, sequence.source, inner_pointer,
                         hint=f"declare it in the `params:` of sequence {sequence.name!r}")
            # `with:` bindings are evaluated once, just before the sequence's first step.
            extra = bindings if inner == 0 else {}
            steps.append(_make_step(inner_raw, sequence.source, inner_pointer, sequence.name, extra))
        scope.update(sequence.captures)

    if checker.problems:
        raise ScenarioFileError(sorted(checker.problems, key=lambda p: (str(p.path), p.line)))
    return Scenario(
        id=data["id"],
        title=data["title"],
        path=path,
        line=document.source.line_of(()),
        idps=tuple(data["idps"]),
        steps=tuple(steps),
        description=data.get("description", ""),
        tags=tuple(data.get("tags", ())),
        requires=tuple(requires),
        level=data.get("level", "must"),
        refs=tuple(data.get("refs", ())),
        vars=dict(data.get("vars", {})),
    )


def _make_step(
    raw: dict[str, Any],
    source: SourceMap,
    pointer: tuple,
    via: str | None = None,
    extra_vars: Mapping[str, Any] | None = None,
) -> Step:
    return Step(
        name=raw["name"],
        request=request_from_mapping(raw["request"]),
        location=Location(source.path, source.line_of(pointer)),
        expect=dict(raw.get("expect", {})),
        capture=dict(raw.get("capture", {})),
        vars={**(extra_vars or {}), **raw.get("vars", {})},
        refs=tuple(raw.get("refs", ())),
        why=raw.get("why", ""),
        via=via,
        when=_condition_or_none(raw.get("when")),
        repeat=raw.get("repeat"),
        concurrent=bool(raw.get("concurrent", False)),
        collect=dict(raw.get("collect", {})),
        paginate=Pagination(**raw["paginate"]) if "paginate" in raw else None,
        description=raw.get("description", ""),
    )


def _condition_or_none(text: str | None) -> Condition | None:
    # A bad condition is already a recorded problem; the step is built only to be discarded.
    try:
        return parse_condition(text, CAPABILITIES) if text is not None else None
    except ConditionError:
        return None
