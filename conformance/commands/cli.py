"""The `scim-conformance` command: run, demo, lint, list, report, cleanup.

A thin shell over pytest and the loader: `run` and `demo` call pytest in-process with this
package's plugin, so a run from the CLI and a run from `pytest` are the same run. `cleanup`
removes what a killed run left on a target (see `conformance.engine.cleanup`).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import getpass
import os
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest
import yaml

from conformance import __version__
from conformance.commands import import_har as har
from conformance.commands import load, record, team_commands
from conformance.engine import cleanup
from conformance.engine.errors import HarnessError, Problem, ScenarioFileError, TargetDeviation
from conformance.engine.paths import default_scenario_paths, find_profiles_dir, find_scenarios_dir
from conformance.engine.profiles import (
    IdpProfile,
    load_idp_profiles,
    load_target_profile,
    resolve_target,
    resolve_target_from_cwd,
)
from conformance.engine.redact import redactor
from conformance.engine.scenario.loader import SCENARIO_SUFFIX, STEPS_SUFFIX, load_scenario, load_shared_steps
from conformance.engine.transport import Transport
from conformance.pytest_plugin import selection
from conformance.reporting.allure_html import AllureUnavailable, build_html
from conformance.reporting.matrix import Matrix, write_matrix

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
            # An xfail here is a known deviation the target profile lists, not a skip.
            self.outcomes[idp]["known" if hasattr(report, "wasxfail") else report.outcome] += 1
            if report.failed:
                error = call.excinfo.value if call.excinfo else None
                cause = error.title if isinstance(error, TargetDeviation) else (
                    f"harness error: {error}" if isinstance(error, HarnessError) else repr(error))
                self.failures.append((item.name, redactor.text(str(cause).splitlines()[0])))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """With --workers the items run in pytest-xdist workers: only their reports come here."""
        if getattr(report, "node", None) is None or ".scenario.yaml::" not in report.nodeid:
            return  # in-process items are counted by pytest_runtest_makereport
        name = report.nodeid.rpartition("::")[2]
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            self.outcomes[name.rpartition("[")[2].rstrip("]")][
                "known" if hasattr(report, "wasxfail") else report.outcome] += 1
            if report.failed:
                self.failures.append((name, redactor.text(_worker_cause(report.longreprtext))))

    def render(self) -> str:
        if not self.outcomes:
            return "No scenario ran."
        lines = ["", "scim-conformance summary",
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


def _worker_cause(text: str) -> str:
    """The one-line cause of a failure from its report text (what an xdist worker sends back)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    step = next((line for line in lines if line.startswith("Step ")), None)
    reason = next((line.removeprefix("✗ ") for line in lines if line.startswith("✗ ")), None)
    if step and reason:
        return f"step {step[5:].split(' (')[0]}: {reason}"  # as TargetDeviation.title reads
    first = lines[0] if lines else "failed"
    return first.replace("harness or scenario error:", "harness error:", 1)


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


def _pytest_args(args: argparse.Namespace, paths: list[str], reports: Path, target: str | None = None) -> list[str]:
    # --assert=plain: scenarios fail through our own exceptions, never a bare assert, while pytest
    # would otherwise recompile every module of an entry-point plugin (ours, Faker's) from source
    # on each start when bytecode is not cached (0.6 s of a 1.4 s start-up). A team that wants
    # rewriting for asserts in its own conftest passes `-- --assert=rewrite`: the later one wins.
    # The pytest plugins of async tests, Locust and Faker's fixture load with every pytest in this
    # environment, and a scenario run uses none of them: not loading them saves start-up time.
    argv = [*paths, "--scim-target", target or args.target, "-p", "no:cacheprovider", "-o", "addopts=",
            "--assert=plain", "-p", "no:anyio", "-p", "no:locust", "-p", "no:faker",
            "--alluredir", str(reports / "allure-results"), "--clean-alluredir",
            "--junitxml", str(reports / "junit.xml"), "-rfE", "--tb=short",
            "-W", "ignore::pytest.PytestAssertRewriteWarning"]
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


@contextmanager
def _insecure_target(spec: str, profiles_dir: Path | None) -> Iterator[str]:
    """`spec` as a temporary target profile file with TLS verification off (for `run --insecure`).

    The plugin reads TLS settings only from a target profile, so the profile the user named (or
    a profile for the bare URL) is copied with `tls: {verify: false}` into a temporary folder,
    which is removed after the run. Tokens are never in profiles, so none is written.
    """
    target = resolve_target(spec, profiles_dir)
    if target.embedded:
        yield spec  # plain HTTP on 127.0.0.1: nothing to verify
        return
    if target.path is not None:
        data = yaml.safe_load(Path(target.path).read_text(encoding="utf-8"))
    else:
        data = {"id": target.id, "name": target.name, "base_url": target.base_url}
    data["tls"] = {"verify": False}
    with tempfile.TemporaryDirectory(prefix="scim-conformance-") as folder:
        profile = Path(folder) / f"{target.id}.yaml"
        profile.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        yield str(profile)


def _run(args: argparse.Namespace, *, html: bool) -> int:
    reports = Path(args.reports)
    paths = args.paths or [str(p) for p in default_scenario_paths()]
    try:
        profiles_dir: Path | None = find_profiles_dir()
    except HarnessError:
        profiles_dir = None
    _ensure_token(args.target, profiles_dir)
    summary = RunSummary()
    if getattr(args, "insecure", False):
        try:
            with _insecure_target(args.target, profiles_dir) as target:
                print("warning: --insecure: TLS certificates are not verified", file=sys.stderr)
                code = int(pytest.main(_pytest_args(args, paths, reports, target), plugins=[summary]))
        except HarnessError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    else:
        code = int(pytest.main(_pytest_args(args, paths, reports), plugins=[summary]))
    print(summary.render())
    if code == NO_TESTS_COLLECTED:
        print("\nNo scenario was selected: check the paths, -k, -m and --idp.", file=sys.stderr)
    else:
        matrix = _print_certification(reports / "allure-results", reports, args.target)
        code = _exit_code(code, matrix, getattr(args, "fail_on", "any"))
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


def _exit_code(pytest_code: int, matrix: Matrix | None, fail_on: str) -> int:
    """`--fail-on any` keeps pytest's code; `must`/`should` fail only on failures of that level
    (or above), so CI can gate on what certification needs and still show the rest."""
    if fail_on == "any" or pytest_code not in (0, 1) or matrix is None:
        return pytest_code
    levels = ("must",) if fail_on == "must" else ("must", "should")
    failing = [o for o in matrix.outcomes if o.level in levels and o.status in ("fail", "error")]
    return 1 if failing else 0


def _print_certification(results: Path, out_dir: Path, target: str | None) -> Matrix | None:
    """Write matrix.md/json and badges beside the results; print where each IdP stands."""
    if not results.is_dir():
        return None
    matrix = write_matrix(results, out_dir, redactor.text(target) if target else None)
    if not matrix.outcomes:
        return matrix
    print("\nCertification (every must scenario of an IdP passed):")
    for certification in map(matrix.certification, matrix.idps):
        line = f"  {certification.idp:<18} {certification.level}"
        if certification.must_not_passed:
            line += f"; must not passed: {', '.join(certification.must_not_passed)}"
        if certification.should_failed:
            line += f"; should failed: {', '.join(certification.should_failed)}"
        print(line)
    print(f"Matrix:         {out_dir / 'matrix.md'} (and matrix.json, badges/)")
    return matrix


def cmd_report(args: argparse.Namespace) -> int:
    results = Path(args.results)
    if not results.is_dir():
        print(f"error: {results}: no such folder (run the scenarios first: scim-conformance run)", file=sys.stderr)
        return EXIT_PROBLEMS
    matrix_dir = Path(args.matrix) if args.matrix else results.parent
    _print_certification(results, matrix_dir, None)
    try:
        page = build_html(results, Path(args.output))
    except (AllureUnavailable, FileNotFoundError, RuntimeError) as exc:
        print(f"error: HTML report not built: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"HTML report:    {page.resolve()}  (one self-contained file; opens offline)")
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
            target = resolve_target(args.target, profiles_dir)
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


def cmd_cleanup(args: argparse.Namespace) -> int:
    """Find and remove what run `--run-id` left on the target; print each removal."""
    if not cleanup.RUN_ID_PATTERN.match(args.run_id):
        print(f"error: --run-id {args.run_id!r}: a run id is letters, digits, '-' and '_' "
              "(it is printed on the run's header line: `run id abc123`)", file=sys.stderr)
        return EXIT_USAGE
    try:
        target, profiles_dir = resolve_target_from_cwd(args.target)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if target.embedded or not target.base_url:
        print("error: the embedded server starts empty for every run: there is nothing to clean up on it",
              file=sys.stderr)
        return EXIT_USAGE
    if args.insecure:
        target = dataclasses.replace(target, verify_tls=False)
    _ensure_token(args.target, profiles_dir)
    token = target.token()
    redactor.add_secret(token)
    where = redactor.text(target.base_url)
    with Transport(target, token, user_agent=f"scim-conformance-cleanup/{__version__}") as transport:
        leftovers, problems = cleanup.find_leftovers(transport, args.run_id, redactor)
        groups = sum(not leftover.is_user for leftover in leftovers)
        print(f"Leftovers of run {args.run_id} on {where}: {groups} group(s), {len(leftovers) - groups} user(s)"
              + (" (dry run: nothing is changed)" if args.dry_run else ""))
        removals = cleanup.remove_leftovers(transport, leftovers, args.run_id, redactor, dry_run=args.dry_run)
    for removal in removals:
        leftover = removal.leftover
        detail = f"  ({removal.detail})" if removal.detail else ""
        print(f"  {removal.action:<16} {leftover.path}  {leftover.name}{detail}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    failed = sum(not removal.ok for removal in removals)
    done = "to do" if args.dry_run else "done"
    print(f"{len(removals) - failed} {done}, {failed} not removed" + (", listing incomplete" if problems else ""))
    return EXIT_PROBLEMS if failed or problems else 0


# --- argument parsing ---------------------------------------------------------------------

def _workers(value: str) -> str:
    """`--workers`: a count of processes or 'auto'; needs pytest-xdist."""
    if value != "auto" and not (value.isdigit() and int(value) >= 0):
        raise argparse.ArgumentTypeError(f"{value!r}: a number of processes (0 = none) or 'auto'")
    import importlib.util

    if importlib.util.find_spec("xdist") is None:
        raise argparse.ArgumentTypeError("needs pytest-xdist: pip install pytest-xdist")
    return value


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*",
                        help="scenario files or folders (default: your own scenarios/, if any, and the shipped ones)")
    parser.add_argument("--idp", action="append", metavar="ID",
                        help="replay only as this IdP profile (repeatable), e.g. okta, entra")
    parser.add_argument("-k", metavar="EXPR", help="select scenarios by name expression (as pytest -k)")
    parser.add_argument("-m", metavar="EXPR", help="select by tag, level or IdP marker (as pytest -m)")
    parser.add_argument("--reports", default="reports", metavar="DIR",
                        help="where allure-results/, junit.xml and html/ go (default: reports)")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per scenario")
    parser.add_argument("--workers", "-n", type=_workers, metavar="N|auto",
                        help="run scenarios in N processes (pytest-xdist; 'auto': one per core); with "
                             "target 'embedded' each process starts its own server")
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

    run = commands.add_parser(
        "run", help="run scenarios against a SCIM server",
        description="Run scenarios against a target; writes Allure results, JUnit XML, the compatibility "
                    "matrix, and with --html the offline HTML report.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  export SCIM_TOKEN=...\n"
               "  scim-conformance run --target https://scim.example.com/scim/v2 --idp okta --html\n"
               "  scim-conformance run --target staging -m \"users and must\" --fail-on must\n"
               "  scim-conformance run --target embedded scenarios/okta/push-new-user.scenario.yaml -v")
    run.add_argument("--target", "-t", required=True, metavar="URL|PROFILE",
                     help="base URL (https://host/scim/v2), target profile name or file, or 'embedded'")
    run.add_argument("--html", action="store_true", help="also build the HTML report (needs the Allure CLI)")
    run.add_argument("--insecure", action="store_true",
                     help="do not verify the server's TLS certificate (as tls.verify: false in a target profile)")
    run.add_argument("--fail-on", choices=("any", "must", "should"), default="any",
                     help="exit 1 on any failure (default), or only when a must (or must/should) scenario fails")
    _add_run_options(run)
    run.set_defaults(handler=cmd_run)

    demo = commands.add_parser("demo", help="start the embedded SCIM server, run every scenario, build the report",
                               description="Start scim2-server on 127.0.0.1, run every scenario against it, "
                                           "write reports/ and build the offline HTML report.",
                               epilog="example: scim-conformance demo --idp okta")
    _add_run_options(demo)
    demo.set_defaults(handler=cmd_demo)

    lint = commands.add_parser("lint", help="check scenario, shared-step and profile files",
                               description="Check files without sending any request; prints path:line: message "
                                           "for each problem and exits 1 if there is any.",
                               epilog="example: scim-conformance lint scenarios/my-team/ profiles/targets/acme.yaml")
    lint.add_argument("paths", nargs="*", help="files or folders (default: scenarios/ and profiles/)")
    lint.add_argument("--profiles", metavar="DIR", help="profiles folder (default: the nearest profiles/)")
    lint.set_defaults(handler=cmd_lint)

    listing = commands.add_parser("list", help="list scenarios with their IdPs, level and tags")
    listing.add_argument("paths", nargs="*", help="files or folders (default: the shipped scenarios/)")
    listing.add_argument("--target", "-t", metavar="URL|PROFILE",
                         help="show which scenarios that target runs, skips (and why) or knows to fail")
    listing.add_argument("--idp", action="append", metavar="ID", help="with --target: only these IdP profiles")
    listing.set_defaults(handler=cmd_list)

    clean = commands.add_parser(
        "cleanup", help="remove the users and groups a killed run left on a target",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Remove what one run created and could not remove itself (it was killed, or the "
                    "network dropped),\nand nothing else. Names generated by a run start with "
                    "scimc-<run id>-; cleanup lists\n/Groups and /Users with a `sw` filter on that "
                    "prefix, checks each name again, then deletes\nthe groups, then the users "
                    "(or deactivates them when the target profile has delete_users: false).",
        epilog="example:\n"
               "  export SCIM_TOKEN=...\n"
               "  scim-conformance cleanup --target https://scim.example.com/scim/v2 --run-id k3x9q2 --dry-run\n"
               "  scim-conformance cleanup --target staging --run-id k3x9q2\n\n"
               "The run id is on the header line of every run (`scim-conformance: target ..., run id k3x9q2`).\n"
               "The token comes from $SCIM_TOKEN, or the variable the target profile names; it is never printed.\n"
               "Exit status: 0 when everything found was removed, 1 when something was not, 2 on usage errors.")
    clean.add_argument("--target", "-t", required=True, metavar="URL|PROFILE",
                       help="base URL (https://host/scim/v2), or a target profile name or file")
    clean.add_argument("--run-id", required=True, metavar="ID", help="the id of the run whose leftovers to remove")
    clean.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    clean.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    clean.set_defaults(handler=cmd_cleanup)

    report = commands.add_parser(
        "report", help="build the offline HTML report and the compatibility matrix from Allure results",
        description="Reads the Allure results of a run; writes the compatibility matrix (matrix.md, "
                    "matrix.json, badges/<idp>.svg) and one self-contained HTML file (needs the Allure CLI: "
                    "make demo installs it, or set ALLURE_BIN).",
        epilog="example: scim-conformance report --results reports/allure-results --output reports/html",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("--results", default="reports/allure-results", metavar="DIR",
                        help="Allure results folder (default: reports/allure-results)")
    report.add_argument("--output", default="reports/html", metavar="DIR",
                        help="folder of the HTML report (default: reports/html)")
    report.add_argument("--matrix", metavar="DIR",
                        help="folder for matrix.md, matrix.json and badges/ (default: the results' parent)")
    report.set_defaults(handler=cmd_report)
    team_commands.add_parsers(commands)
    for module in (record, har, load):
        module.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `--` goes to pytest unchanged (argparse would give it to `paths`).
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    args = build_parser().parse_args(argv[:len(argv) - len(extra) - 1] if "--" in argv else argv)
    if extra and hasattr(args, "pytest_args"):
        args.pytest_args = [*(args.pytest_args or []), *extra]
    if getattr(args, "pytest_args", None) and args.pytest_args[0] == "--":
        args.pytest_args = args.pytest_args[1:]
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def entry() -> NoReturn:
    """The `scim-conformance` console script: `main()`, then exit with its code.

    Every report is written and closed when `main()` returns. The interpreter would still walk
    the whole heap once more on the way out (a last garbage collection, 0.1 s after a full
    run); frozen, the heap is left to the operating system instead.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    entry()
