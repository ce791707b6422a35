"""The `scim-conformance` command: run, demo, lint, list, report.

A thin shell over pytest and the loader: `run` and `demo` call pytest in-process with this
package's plugin, so a run from the CLI and a run from `pytest` are the same run.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conformance import __version__
from conformance.allure_html import AllureUnavailable, build_html
from conformance.errors import HarnessError, Problem, ScenarioFileError, TargetDeviation
from conformance.paths import find_profiles_dir, find_scenarios_dir
from conformance.profiles import load_idp_profiles, load_target_profile, resolve_target
from conformance.redact import redactor
from conformance.scenario.loader import SCENARIO_SUFFIX, STEPS_SUFFIX, load_scenario, load_shared_steps

__all__ = ["main"]

EXIT_PROBLEMS = 1
EXIT_USAGE = 2
NO_TESTS_COLLECTED = 5


# --- summary of a run ---------------------------------------------------------------------

@dataclass
class RunSummary:
    """A pytest plugin object that records each scenario item's outcome for the final summary."""

    outcomes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[tuple[str, str]] = field(default_factory=list)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
        report = yield
        idp = getattr(item, "idp_id", None)
        if idp is None:
            return report
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            self.outcomes[idp][report.outcome] += 1
            if report.failed:
                error = call.excinfo.value if call.excinfo else None
                cause = error.title if isinstance(error, TargetDeviation) else (
                    f"harness error: {error}" if isinstance(error, HarnessError) else repr(error))
                self.failures.append((item.name, redactor.text(str(cause).splitlines()[0])))
        return report

    def render(self) -> str:
        if not self.outcomes:
            return "No scenario ran."
        lines = ["", "scim-conformance summary", f"  {'IdP':<18} {'passed':>7} {'failed':>7} {'skipped':>8}"]
        for idp, counts in sorted(self.outcomes.items()):
            lines.append(f"  {idp:<18} {counts['passed']:>7} {counts['failed']:>7} {counts['skipped']:>8}")
        if self.failures:
            lines += ["", "Failures:"]
            lines += [f"  ✗ {name}: {cause}" for name, cause in self.failures]
        return "\n".join(lines)


# --- commands -----------------------------------------------------------------------------

def _ensure_token(target_spec: str, profiles_dir: Path | None) -> None:
    """Ask for the bearer token when the target needs one, the variable is unset and we have a TTY."""
    try:
        target = resolve_target(target_spec, profiles_dir)
    except HarnessError:
        return  # pytest reports the bad --scim-target with its own usage error
    if target.embedded or target.auth_type == "none" or os.environ.get(target.token_env):
        return
    if sys.stdin.isatty():
        token = getpass.getpass(f"Bearer token for {target.base_url} (${target.token_env} is not set): ")
        if token:
            os.environ[target.token_env] = token  # read by the plugin; never written anywhere
    else:
        print(f"warning: ${target.token_env} is not set: requests go without an Authorization header",
              file=sys.stderr)


def _pytest_args(args: argparse.Namespace, paths: list[str], reports: Path) -> list[str]:
    argv = [*paths, "--scim-target", args.target, "-p", "no:cacheprovider", "-o", "addopts=",
            "--alluredir", str(reports / "allure-results"), "--clean-alluredir",
            "--junitxml", str(reports / "junit.xml"), "-rfE", "--tb=short"]
    for idp in args.idp or []:
        argv += ["--idp", idp]
    if args.k:
        argv += ["-k", args.k]
    if args.m:
        argv += ["-m", args.m]
    if args.verbose:
        argv.append("-v")
    return argv + list(args.pytest_args or [])


def _run(args: argparse.Namespace, *, html: bool) -> int:
    reports = Path(args.reports)
    paths = args.paths or [str(find_scenarios_dir())]
    try:
        profiles_dir: Path | None = find_profiles_dir()
    except HarnessError:
        profiles_dir = None
    _ensure_token(args.target, profiles_dir)
    summary = RunSummary()
    code = int(pytest.main(_pytest_args(args, paths, reports), plugins=[summary]))
    print(summary.render())
    if code == NO_TESTS_COLLECTED:
        print("\nNo scenario was selected: check the paths, -k, -m and --idp.", file=sys.stderr)
    print(f"\nAllure results: {reports / 'allure-results'}\nJUnit XML:      {reports / 'junit.xml'}")
    if html and code in (0, 1):
        try:
            page = build_html(reports / "allure-results", reports / "html")
        except (AllureUnavailable, FileNotFoundError, RuntimeError) as exc:
            print(f"HTML report not built: {exc}", file=sys.stderr)
            return code or EXIT_PROBLEMS
        print(f"HTML report:    {page.resolve()}  (one self-contained file; opens offline)")
    return code


def cmd_run(args: argparse.Namespace) -> int:
    return _run(args, html=args.html)


def cmd_demo(args: argparse.Namespace) -> int:
    args.target = "embedded"
    print("Starting the embedded SCIM server (scim2-server) on 127.0.0.1 and replaying every scenario...")
    return _run(args, html=True)


def cmd_report(args: argparse.Namespace) -> int:
    try:
        page = build_html(Path(args.results), Path(args.output))
    except (AllureUnavailable, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"HTML report: {page.resolve()}")
    return 0


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


def _lint_file(path: Path, idps: dict) -> bool:
    """Load one file as what its name and folder say it is; False for a file this tool does not read."""
    if path.name.endswith(SCENARIO_SUFFIX):
        load_scenario(path, idps)
    elif path.name.endswith(STEPS_SUFFIX):
        load_shared_steps([path])
    elif path.parent.name == "targets":
        load_target_profile(path)
    elif path.parent.name != "idp":  # IdP profiles are loaded together, before the other files
        return False
    return True


def cmd_lint(args: argparse.Namespace) -> int:
    """Check scenario, shared-step and profile files; print `path:line: message` for each problem."""
    problems: list[Problem] = []
    try:
        profiles_dir = Path(args.profiles) if args.profiles else find_profiles_dir()
        paths = args.paths or [str(find_scenarios_dir()), str(profiles_dir)]
        files = _files(paths, (".yaml",))
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    idps = {}
    try:
        idps = load_idp_profiles(profiles_dir)
    except ScenarioFileError as exc:
        problems += exc.problems
    checked = 0
    for path in files:
        try:
            checked += _lint_file(path, idps)
        except ScenarioFileError as exc:
            checked += 1
            problems += exc.problems
    for problem in dict.fromkeys(problems):
        print(problem)
    files_with_problems = len({str(p.path) for p in problems})
    verdict = f"{len(problems)} problem(s) in {files_with_problems} file(s)" if problems else "no problems"
    print(f"{checked} file(s) checked: {verdict}", file=sys.stderr)
    return EXIT_PROBLEMS if problems else 0


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
    print(f"{'scenario':<40} {'IdPs':<22} {'level':<7} {'tags':<30} title")
    for s in scenarios:
        print(f"{s.id:<40} {','.join(s.idps):<22} {s.level:<7} {','.join(s.tags):<30} {s.title}")
    print(f"\n{len(scenarios)} scenario(s); IdP profiles: {', '.join(sorted(idps))}")
    return 0


# --- argument parsing ---------------------------------------------------------------------

def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", help="scenario files or folders (default: the shipped scenarios/)")
    parser.add_argument("--idp", action="append", metavar="ID",
                        help="replay only as this IdP profile (repeatable), e.g. okta, entra")
    parser.add_argument("-k", metavar="EXPR", help="select scenarios by name expression (as pytest -k)")
    parser.add_argument("-m", metavar="EXPR", help="select by tag, level or IdP marker (as pytest -m)")
    parser.add_argument("--reports", default="reports", metavar="DIR",
                        help="where allure-results/, junit.xml and html/ go (default: reports)")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per scenario")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER,
                        help="after `--`: extra arguments passed to pytest unchanged")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scim-conformance",
        description="Replays what Okta and Microsoft Entra ID send to a SCIM 2.0 server, scenario by "
                    "scenario, and reports where the server breaks them.",
        epilog="The bearer token is read from $SCIM_TOKEN (or the variable a target profile names), "
               "or asked for at a prompt; it is never printed or written to the reports.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run scenarios against a SCIM server",
                              description="Run scenarios against a target; writes Allure results and JUnit XML.")
    run.add_argument("--target", "-t", required=True, metavar="URL|PROFILE",
                     help="base URL (https://host/scim/v2), target profile name or file, or 'embedded'")
    run.add_argument("--html", action="store_true", help="also build the HTML report (needs the Allure CLI)")
    _add_run_options(run)
    run.set_defaults(handler=cmd_run)

    demo = commands.add_parser("demo", help="start the embedded SCIM server, run every scenario, build the report",
                               description="Start scim2-server on 127.0.0.1, run every scenario against it, "
                                           "write reports/ and build the offline HTML report.")
    _add_run_options(demo)
    demo.set_defaults(handler=cmd_demo)

    lint = commands.add_parser("lint", help="check scenario, shared-step and profile files",
                               description="Check files without sending any request; prints path:line: message "
                                           "for each problem and exits 1 if there is any.")
    lint.add_argument("paths", nargs="*", help="files or folders (default: scenarios/ and profiles/)")
    lint.add_argument("--profiles", metavar="DIR", help="profiles folder (default: the nearest profiles/)")
    lint.set_defaults(handler=cmd_lint)

    listing = commands.add_parser("list", help="list scenarios with their IdPs, level and tags")
    listing.add_argument("paths", nargs="*", help="files or folders (default: the shipped scenarios/)")
    listing.set_defaults(handler=cmd_list)

    report = commands.add_parser("report", help="build the offline HTML report from Allure results")
    report.add_argument("--results", default="reports/allure-results", metavar="DIR")
    report.add_argument("--output", default="reports/html", metavar="DIR")
    report.set_defaults(handler=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "pytest_args", None) and args.pytest_args[0] == "--":
        args.pytest_args = args.pytest_args[1:]
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
