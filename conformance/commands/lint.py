"""`scim-conformance lint`: check scenario, shared-step and profile files without sending a request.

Each file is loaded as a run would load it, by what its name and folder say it is; every problem
is printed as `path:line: message`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.commands.exit_codes import EXIT_PROBLEMS, EXIT_USAGE
from conformance.engine.errors import HarnessError, Problem, ScenarioFileError
from conformance.engine.paths import find_profiles_dir, find_scenarios_dir
from conformance.engine.profiles import IdpProfile, load_idp_profiles, load_target_profile
from conformance.engine.scenario.loader import SCENARIO_SUFFIX, STEPS_SUFFIX, load_scenario, load_shared_steps
from conformance.engine.scenario.target_checks import ca_bundle_problems
from conformance.engine.scenario.yamlsrc import load_yaml

__all__ = ["add_parser", "cmd_lint"]


_NOT_READ = ("not a file scim-conformance reads: scenarios end in .scenario.yaml, shared steps in "
             ".steps.yaml, IdP profiles are idp/<id>.yaml, target profiles targets/<name>.yaml")


def _kind(path: Path) -> str | None:
    """What a file is by its name and folder: scenario, steps, target, idp; None if none of these."""
    if path.name.endswith(SCENARIO_SUFFIX):
        return "scenario"
    if path.name.endswith(STEPS_SUFFIX):
        return "steps"
    if path.parent.name == "targets" and path.suffix in (".yaml", ".yml"):
        return "target"
    if path.parent.name == "idp" and path.suffix == ".yaml":
        return "idp"
    return None


def _misnamed(path: Path) -> str | None:
    """Why a file that looks meant for this tool would be silently ignored by it, or None."""
    for suffix, what in ((".scenario.yml", "scenario"), (".steps.yml", "shared steps")):
        if path.name.endswith(suffix):
            return (f"a {what} file must end in {suffix.replace('.yml', '.yaml')}: "
                    "files ending in .yml are never loaded")
    if path.parent.name == "idp" and path.suffix == ".yml":
        return "an IdP profile must end in .yaml: files ending in .yml are never loaded"
    return None


def _lint_paths(paths: list[str]) -> tuple[list[Path], list[Problem]]:
    """The files to lint under `paths`; a named file this tool would not read is a problem."""
    files: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*.y*ml") if p.is_file()):
                reason = _misnamed(found)
                if reason:
                    problems.append(Problem(found, 1, reason))
                elif _kind(found):
                    files.append(found)  # other YAML in the folder (CI files, ...) is none of ours
        elif path.is_file():
            reason = _misnamed(path) or (None if _kind(path) else _NOT_READ)
            if reason:
                problems.append(Problem(path, 1, reason))
            else:
                files.append(path)
        else:
            raise HarnessError(f"{raw}: no such file or folder")
    return files, problems


@dataclass
class _Linter:
    """Loads each file as what it is; collects every problem."""

    idps: dict[str, IdpProfile] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    scenario_ids: dict[str, Path] = field(default_factory=dict)
    steps_folders: set[Path] = field(default_factory=set)
    idp_folders: set[Path] = field(default_factory=set)

    def load_idps(self, profiles_dir: Path) -> dict[str, IdpProfile]:
        """The IdP profiles of `profiles_dir`, loaded once per folder, as a run loads them."""
        folder = profiles_dir.resolve()
        if folder in self.idp_folders:
            return {}
        self.idp_folders.add(folder)
        try:
            return load_idp_profiles(profiles_dir)
        except ScenarioFileError as exc:
            self.problems += exc.problems
            return {}

    def lint(self, path: Path) -> None:
        try:
            self._lint(path)
        except ScenarioFileError as exc:
            self.problems += exc.problems

    def _lint(self, path: Path) -> None:
        kind = _kind(path)
        if kind == "scenario":
            scenario = load_scenario(path, self.idps)
            # As pytest collection does: one id, one file, across everything linted together.
            first = self.scenario_ids.setdefault(scenario.id, path)
            if first != path:
                self.problems.append(
                    Problem(path, scenario.line, f"scenario id {scenario.id!r} is already used by {first}"))
        elif kind == "steps":
            # Steps files are used a folder at a time (sequence names are unique across it).
            folder = path.parent.resolve()
            if folder not in self.steps_folders:
                self.steps_folders.add(folder)
                load_shared_steps(sorted(path.parent.glob(f"*{STEPS_SUFFIX}")))
        elif kind == "target":
            load_target_profile(path)
            self.problems += ca_bundle_problems(load_yaml(path))
        elif kind == "idp":
            self.load_idps(path.parent.parent)


def cmd_lint(args: argparse.Namespace) -> int:
    """Check scenario, shared-step and profile files; print `path:line: message` for each problem."""
    try:
        profiles_dir = Path(args.profiles) if args.profiles else find_profiles_dir()
        paths = args.paths or [str(find_scenarios_dir()), str(profiles_dir)]
        files, unread = _lint_paths(paths)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    linter = _Linter(problems=list(unread))
    linter.idps = linter.load_idps(profiles_dir)
    for path in files:
        linter.lint(path)
    unique = list(dict.fromkeys(linter.problems))
    for problem in unique:
        print(problem)
    checked = len(files) + len(unread)
    files_with_problems = len({str(p.path) for p in unique})
    verdict = f"{len(unique)} problem(s) in {files_with_problems} file(s)" if unique else "no problems"
    print(f"{checked} file(s) checked: {verdict}", file=sys.stderr)
    return EXIT_PROBLEMS if unique else 0


def add_parser(commands: Any) -> argparse.ArgumentParser:
    lint = commands.add_parser("lint", help="check scenario, shared-step and profile files",
                               description="Check files without sending any request; prints path:line: message "
                                           "for each problem and exits 1 if there is any.",
                               epilog="example: scim-conformance lint scenarios/my-team/ profiles/targets/acme.yaml")
    lint.add_argument("paths", nargs="*", help="files or folders (default: scenarios/ and profiles/)")
    lint.add_argument("--profiles", metavar="DIR", help="profiles folder (default: the nearest profiles/)")
    lint.set_defaults(handler=cmd_lint)
    return lint
