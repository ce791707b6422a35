"""A scenario run from the command line: the options `run`, `demo` and `certify` share, the pytest
argv they become, the summary printed after pytest, and the exit status.

A run from the command line and a run from `pytest` are the same run: pytest is called in-process
with this package's plugin, which opens the target (`conformance.engine.target`).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conformance.commands.exit_codes import EXIT_INTERRUPTED, EXIT_PROBLEMS, EXIT_USAGE, NO_TESTS_COLLECTED
from conformance.commands.report import print_certification
from conformance.engine.errors import HarnessError
from conformance.engine.paths import default_scenario_paths
from conformance.engine.target import prepare_target, profiles_dir_or_none
from conformance.pytest_plugin.plugin import CAUSE_PROPERTY
from conformance.reporting.allure_html import AllureUnavailable, build_html
from conformance.reporting.matrix import Matrix

__all__ = ["RunSummary", "add_run_options", "add_stray_paths", "exit_code", "pytest_args", "run_scenarios"]


@dataclass
class RunSummary:
    """A pytest plugin object that records each scenario item's outcome for the final summary.

    It reads the reports pytest logs, which are the same in one process and with --workers
    (pytest-xdist sends each worker's reports to the controller, user_properties included).
    """

    outcomes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C or SIGTERM ended the run: what is counted ran before it

    def pytest_keyboard_interrupt(self) -> None:
        self.interrupted = True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if ".scenario.yaml::" not in report.nodeid:
            return
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            name = report.nodeid.rpartition("::")[2]  # scenario-id[idp]
            # An xfail here is a known deviation the target profile lists, not a skip.
            self.outcomes[name.rpartition("[")[2].rstrip("]")][
                "known" if hasattr(report, "wasxfail") else report.outcome] += 1
            if report.failed:
                causes = [value for key, value in report.user_properties if key == CAUSE_PROPERTY]
                self.failures.append((name, str(causes[0]) if causes else "failed"))

    def render(self) -> str:
        if not self.outcomes:
            return "Run interrupted before a scenario finished." if self.interrupted else "No scenario ran."
        heading = "scim-conformance summary"
        if self.interrupted:
            finished = sum(sum(counts.values()) for counts in self.outcomes.values())
            heading += f": run interrupted after {finished} scenario(s) finished"
        lines = ["", heading,
                 f"  {'IdP':<18} {'passed':>7} {'failed':>7} {'known':>6} {'skipped':>8}"]
        for idp, counts in sorted(self.outcomes.items()):
            lines.append(f"  {idp:<18} {counts['passed']:>7} {counts['failed']:>7} {counts['known']:>6} "
                         f"{counts['skipped']:>8}")
        if any(counts["known"] for counts in self.outcomes.values()):
            lines.append("  known: deviations the target profile lists under expected_failures (see -rx)")
        if self.failures:
            lines += ["", "Failures:"]
            lines += [f"  ✗ {name}: {cause}" for name, cause in self.failures]
        return "\n".join(lines)


def pytest_args(args: argparse.Namespace, paths: list[str], reports: Path) -> list[str]:
    """The pytest command line of a run with the options of `add_run_options` (and --target)."""
    # --assert=plain: scenarios fail through our own exceptions, never a bare assert, while pytest
    # would otherwise recompile every module of an entry-point plugin (ours, Faker's) from source
    # on each start when bytecode is not cached (0.6 s of a 1.4 s start-up). A team that wants
    # rewriting for asserts in its own conftest passes `-- --assert=rewrite`: the later one wins.
    # The pytest plugins of async tests, Locust and Faker's fixture load with every pytest in this
    # environment, and a scenario run uses none of them: not loading them saves start-up time.
    argv = [*paths, "--scim-target", args.target, "-p", "no:cacheprovider", "-o", "addopts=",
            "--assert=plain", "-p", "no:anyio", "-p", "no:locust", "-p", "no:faker",
            "--alluredir", str(reports / "allure-results"), "--clean-alluredir",
            "--junitxml", str(reports / "junit.xml"), "-rfE", "--tb=short",
            "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    if getattr(args, "insecure", False):
        argv.append("--scim-insecure")
    for idp in args.idp or []:
        argv += ["--idp", idp]
    if args.k:
        argv += ["-k", args.k]
    if args.m:
        argv += ["-m", args.m]
    if args.verbose:
        argv.append("-v")
    if getattr(args, "workers", None) is not None:
        argv += ["-n", args.workers]  # pytest-xdist; each worker's generated names carry its id
    return argv + list(args.pytest_args or [])


def run_scenarios(args: argparse.Namespace, *, html: bool) -> int:
    """Run the scenarios `args` select against `args.target`; print the summary; the exit status."""
    reports = Path(args.reports)
    paths = args.paths or [str(p) for p in default_scenario_paths()]
    insecure = bool(getattr(args, "insecure", False))
    try:
        # Here for the token prompt (the plugin cannot ask: pytest holds the terminal); the
        # plugin opens the same target again from --scim-target.
        prepare_target(args.target, profiles_dir_or_none(), insecure=insecure, prompt=True)
    except HarnessError as exc:
        if insecure:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        # otherwise pytest reports the bad --scim-target with its own usage error
    if insecure:
        print("warning: --insecure: TLS certificates are not verified", file=sys.stderr)
    summary = RunSummary()
    code = int(pytest.main(pytest_args(args, paths, reports), plugins=[summary]))
    print(summary.render())
    if summary.interrupted:
        code = EXIT_INTERRUPTED  # what ran before it is reported, never certified: the run is not complete
    elif code == NO_TESTS_COLLECTED:
        print("\nNo scenario was selected: check the paths, -k, -m and --idp.", file=sys.stderr)
    else:
        matrix = print_certification(reports / "allure-results", reports, args.target)
        code = exit_code(code, matrix, getattr(args, "fail_on", "any"))
    print(f"\nAllure results: {reports / 'allure-results'}\nJUnit XML:      {reports / 'junit.xml'}")
    if html and code in (0, 1):
        try:
            page = build_html(reports / "allure-results", reports / "html")
        except (AllureUnavailable, FileNotFoundError, RuntimeError) as exc:
            print(f"HTML report not built: {exc}", file=sys.stderr)
            return code or EXIT_PROBLEMS
        print(f"HTML report:    {page.resolve()}  (one self-contained file; opens offline)")
    return code


def exit_code(pytest_code: int, matrix: Matrix | None, fail_on: str) -> int:
    """`--fail-on any` keeps pytest's code; `must`/`should` fail only on failures of that level
    (or above), so CI can gate on what certification needs and still show the rest."""
    if fail_on == "any" or pytest_code not in (0, 1) or matrix is None:
        return pytest_code
    levels = ("must",) if fail_on == "must" else ("must", "should")
    failing = [o for o in matrix.outcomes if o.level in levels and o.status in ("fail", "error")]
    return 1 if failing else 0


def workers(value: str) -> str:
    """`--workers`: a count of processes or 'auto'; needs pytest-xdist."""
    if value != "auto" and not (value.isdigit() and int(value) >= 0):
        raise argparse.ArgumentTypeError(f"{value!r}: a number of processes (0 = none) or 'auto'")
    if importlib.util.find_spec("xdist") is None:
        raise argparse.ArgumentTypeError("needs pytest-xdist: pip install pytest-xdist")
    return value


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that runs scenarios (`run`, `demo`)."""
    parser.add_argument("paths", nargs="*",
                        help="scenario files or folders (default: your own scenarios/, if any, and the shipped ones); "
                             "options may come before, between or after them; arguments after `--` go to "
                             "pytest unchanged")
    parser.add_argument("--idp", action="append", metavar="ID",
                        help="replay only as this IdP profile (repeatable), e.g. okta, entra")
    parser.add_argument("-k", metavar="EXPR", help="select scenarios by name expression (as pytest -k)")
    parser.add_argument("-m", metavar="EXPR", help="select by tag, level or IdP marker (as pytest -m)")
    parser.add_argument("--reports", default="reports", metavar="DIR",
                        help="where allure-results/, junit.xml and html/ go (default: reports)")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per scenario")
    parser.add_argument("--workers", "-n", type=workers, metavar="N|auto",
                        help="run scenarios in N processes (pytest-xdist; 'auto': one per core); with "
                             "target 'embedded' each process starts its own server")
    # Everything after `--` goes to pytest unchanged (`conformance.commands.cli.main` splits it off);
    # a positional catch-all here would also swallow this command's own options written after a path.
    parser.set_defaults(pytest_args=[])


def add_stray_paths(args: argparse.Namespace, unknown: list[str]) -> list[str]:
    """Paths argparse left over because an option came between them (`run a --html b`): added to
    `args.paths`; returns what is still not understood (options this command does not have)."""
    if not hasattr(args, "pytest_args"):  # not a command that runs scenarios
        return unknown
    stray = [arg for arg in unknown if not arg.startswith("-")]
    if len(stray) < len(unknown):
        return unknown  # an unknown option: its value may be among the strays, so none is a path
    args.paths = [*(args.paths or []), *stray]
    return []
