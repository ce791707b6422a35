"""The scenario file a recording becomes: where it may go, writing it, and telling the user about it.

Shared by `scim-conformance record` and `scim-conformance import`: both check their destination
(`--out`, `--idp`) before they start, then `save_scenario` writes what the compiler builds, lints
it, and prints what was written and how to replay it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from conformance.engine.errors import HarnessError, ScenarioFileError
from conformance.engine.paths import find_profiles_dir
from conformance.engine.profiles import load_idp_profiles
from conformance.engine.scenario.loader import load_scenario
from conformance.recording.compiler import build_scenario, scenario_id_for
from conformance.recording.observed import Observed, Recording, RecordingError

__all__ = ["Destination", "save_scenario"]


@dataclass(frozen=True)
class Destination:
    """Where the scenario goes and what it is called: the options `record` and `import` share."""

    out: Path
    idp: str
    keep_values: bool = False
    force: bool = False
    scenario_id: str | None = None
    title: str | None = None

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        """Register the options that say where the scenario goes and what it is called."""
        parser.add_argument("--out", "-o", required=True, metavar="FILE",
                            help="the scenario to write, e.g. scenarios/recorded/NAME.scenario.yaml")
        parser.add_argument("--idp", default="recorded", metavar="ID",
                            help="the IdP profile the scenario is replayed as (default: recorded, which adds no "
                                 "headers of its own: every step carries the headers recorded)")
        parser.add_argument("--keep-values", action="store_true",
                            help="keep personal data (userName, emails, names, ...) as recorded instead of "
                                 "generating new values; secrets are removed all the same")
        parser.add_argument("--id", metavar="ID", help="scenario id (default: recorded-<file name>)")
        parser.add_argument("--title", help="scenario title (default: a summary of the requests)")
        parser.add_argument("--force", action="store_true", help="replace --out if it exists")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Destination:
        """The destination the options name; HarnessError (before anything is recorded) if it cannot be used."""
        destination = cls(Path(args.out), args.idp, args.keep_values, args.force, args.id, args.title)
        problem = _output_problem(destination.out, destination.force) or _idp_problem(destination.idp, destination.out)
        if problem:
            raise HarnessError(problem)
        return destination


def save_scenario(exchanges: list[Observed], destination: Destination, *, base_url: str, header: list[str],
                  target_hint: str) -> int:
    """Write the scenario for `exchanges`, lint it and say what was written; the exit status.

    `target_hint` is what the printed replay command passes to `--target`.
    """
    try:
        recording = _write(exchanges, destination, base_url=base_url, header=header)
    except RecordingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return _report(recording, destination.out, len(exchanges), target_hint)


def _write(exchanges: list[Observed], destination: Destination, *, base_url: str, header: list[str]) -> Recording:
    """Build the scenario and write it (folders created). Raises RecordingError."""
    out = destination.out
    recording = build_scenario(
        exchanges, base_url=base_url, scenario_id=destination.scenario_id or scenario_id_for(out.name),
        idp=destination.idp, keep_values=destination.keep_values, title=destination.title, header=header,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(recording.text, encoding="utf-8")
    return recording


def _lint(out: Path) -> list[str]:
    """The lint problems of the written file (none expected), as `path:line: message` lines."""
    try:
        load_scenario(out, load_idp_profiles(find_profiles_dir(out.parent)))
    except ScenarioFileError as exc:
        return [str(problem) for problem in exc.problems]
    return []


def _output_problem(out: Path, force: bool) -> str | None:
    """Why `out` cannot be written, or None."""
    if not out.name.endswith(".scenario.yaml"):
        return f"--out {out}: a scenario file name must end in .scenario.yaml"
    if out.exists() and not force:
        return f"--out {out}: the file exists (pass --force to replace it)"
    return None


def _idp_problem(idp: str, out: Path) -> str | None:
    """Why `--idp` is not a known IdP profile, or None."""
    try:
        known = load_idp_profiles(find_profiles_dir(out.resolve().parent))
    except (HarnessError, ScenarioFileError) as exc:
        return f"cannot load the IdP profiles: {exc}"
    if idp not in known:
        return f"--idp {idp}: unknown IdP profile (known: {', '.join(sorted(known))})"
    return None


def _report(recording: Recording, out: Path, seen: int, target_hint: str) -> int:
    """Print what was written and how to replay it; the exit status."""
    print(f"Wrote {out}: {recording.steps} step(s) from {seen} request(s)")
    for line in recording.left_out:
        print(f"  left out: {line}")
    for line in recording.notes:
        print(f"  note: {line}")
    problems = _lint(out)
    if problems:
        print("lint found problems in the written file:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print("lint: no problems")
    print(f"Replay: scim-conformance run --target {target_hint} {out}")
    return 0
