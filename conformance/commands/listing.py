"""`scim-conformance list`: the scenarios with their IdPs, level and tags; with --target, which of
them that target runs, skips (and why) or knows to fail."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from conformance.commands.exit_codes import EXIT_PROBLEMS, EXIT_USAGE
from conformance.engine.errors import HarnessError, ScenarioFileError
from conformance.engine.paths import find_profiles_dir, find_scenarios_dir
from conformance.engine.profiles import load_idp_profiles
from conformance.engine.scenario.loader import SCENARIO_SUFFIX, load_scenario
from conformance.engine.target import resolve
from conformance.pytest_plugin import selection

__all__ = ["add_parser", "cmd_list"]


def _files(paths: list[str], suffixes: tuple[str, ...]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.yaml") if p.name.endswith(suffixes))
        elif path.exists():
            found.append(path)
        else:
            raise HarnessError(f"{raw}: no such file or folder")
    return found


def cmd_list(args: argparse.Namespace) -> int:
    try:
        profiles_dir = find_profiles_dir()
        idps = load_idp_profiles(profiles_dir)
        files = _files(args.paths or [str(find_scenarios_dir())], (SCENARIO_SUFFIX,))
        scenarios = [load_scenario(path, idps) for path in files]
    except ScenarioFileError as exc:
        print(exc, file=sys.stderr)
        print("run `scim-conformance lint` for every problem", file=sys.stderr)
        return EXIT_PROBLEMS
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.target:  # which items that target runs, skips (and why) or expects to fail
        try:
            target = resolve(args.target, profiles_dir)
        except HarnessError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(selection.render_plan(selection.plan(scenarios, target, args.idp or ()), target))
        return 0
    print(f"{'scenario':<40} {'IdPs':<22} {'level':<7} {'tags':<30} title")
    for s in scenarios:
        print(f"{s.id:<40} {','.join(s.idps):<22} {s.level:<7} {','.join(s.tags):<30} {s.title}")
    print(f"\n{len(scenarios)} scenario(s); IdP profiles: {', '.join(sorted(idps))}")
    return 0


def add_parser(commands: Any) -> argparse.ArgumentParser:
    listing = commands.add_parser("list", help="list scenarios with their IdPs, level and tags")
    listing.add_argument("paths", nargs="*", help="files or folders (default: the shipped scenarios/)")
    listing.add_argument("--target", "-t", metavar="URL|PROFILE",
                         help="show which scenarios that target runs, skips (and why) or knows to fail")
    listing.add_argument("--idp", action="append", metavar="ID", help="with --target: only these IdP profiles")
    listing.set_defaults(handler=cmd_list)
    return listing
