"""The pytest plugin: collects `*.scenario.yaml` files as one item per scenario x IdP.

It knows nothing of HTTP: it parses options, loads files, turns tags, levels and IdPs into
markers and Allure labels at collection, and hands each item to the runner. Failures render
as the runner's one-screen report, never as a Python traceback.
"""

from __future__ import annotations

import argparse
import functools
import gc
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _pytest._code.code import ReprFileLocation, TerminalRepr

from conformance.engine.errors import HarnessError, Problem, ScenarioFileError, TargetDeviation
from conformance.engine.fakedata import RunData, new_run_id
from conformance.engine.paths import find_profiles_dir, shipped_dir
from conformance.engine.profiles import IdpProfile, TargetProfile, load_idp_profiles
from conformance.engine.redact import redactor
from conformance.engine.runner import Runner
from conformance.engine.scenario.loader import (
    SCENARIO_SUFFIX,
    SharedSequence,
    load_scenario,
    shared_sequences_for,
    shared_step_files,
)
from conformance.engine.scenario.model import Scenario
from conformance.engine.target import Target, prepare_target
from conformance.engine.transport import Transport
from conformance.pytest_plugin.interrupts import InterruptedRun
from conformance.reporting import allure_identity, allure_writer
from conformance.reporting.allure_meta import environment, ref_links, write_environment_and_categories
from conformance.reporting.allure_steps import AllureReporter
from conformance.reporting.matrix import read_results

__all__ = ["CAUSE_PROPERTY", "ScenarioFile", "ScenarioItem", "failure_cause"]

SEVERITY = {"must": "critical", "should": "normal", "may": "minor"}
RUN_ID_ENV = "SCIM_CONFORMANCE_RUN_ID"
# The one-line cause of a failed scenario item, kept in its report's user_properties: pytest-xdist
# sends those from a worker to the controller, where the command's summary reads them.
CAUSE_PROPERTY = "scim-conformance cause"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("scim-conformance", "SCIM conformance scenarios")
    group.addoption("--scim-target", metavar="URL|PROFILE",
                    help="SCIM server to test: a base URL (https://host/scim/v2), a target profile "
                         "name from profiles/targets/, a profile file, or 'embedded' to start the "
                         "embedded scim2-server on 127.0.0.1. The token comes from $SCIM_TOKEN or the "
                         "variable the profile names.")
    group.addoption("--idp", action="append", default=[], metavar="ID",
                    help="Replay only as these IdP profiles (repeatable or comma-separated; "
                         "default: every IdP a scenario lists).")
    group.addoption("--scim-insecure", action="store_true", default=False,
                    help="Do not verify the target's TLS certificate (as tls.verify: false in a target profile).")
    group.addoption("--scim-profiles", metavar="DIR",
                    help="Folder holding idp/ and targets/ profiles (default: the nearest profiles/).")
    group.addoption("--scim-run-id", metavar="ID",
                    help=f"Run id put into generated names (default: ${RUN_ID_ENV} or random).")
    group.addoption("--scim-scenario-timeout", type=_seconds, metavar="SECONDS",
                    help="Time limit for the steps of one scenario; its cleanup gets a budget of its own "
                         "(default: timeouts.scenario of the target profile, 300 s).")


def _seconds(value: str) -> float:
    """A positive, finite number of seconds (an option's value)."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number of seconds")
    return seconds


@dataclass
class Session:
    """State shared by all items of one pytest session (one xdist worker)."""

    profiles_dir: Path | None
    opened: Target | None  # the target --scim-target names; the embedded server starts on first use
    idp_filter: set[str]
    run_data: RunData
    scenario_ids: dict[str, Path] = field(default_factory=dict)
    markers: set[str] = field(default_factory=set)  # marker names registered for tags and IdPs
    _idps: dict[str, IdpProfile] | None = None
    _shared: dict[tuple[Path, ...], dict[str, SharedSequence]] = field(default_factory=dict)
    _transport: Transport | None = None

    @property
    def target(self) -> TargetProfile | None:
        """The target's profile; for the embedded server, with its base URL once it runs."""
        return self.opened.profile if self.opened is not None else None

    def idps(self) -> dict[str, IdpProfile]:
        if self._idps is None:
            if self.profiles_dir is None:
                raise HarnessError("no profiles folder found; pass --scim-profiles DIR")
            self._idps = load_idp_profiles(self.profiles_dir)
        return self._idps

    def shared_for(self, scenario_path: Path) -> dict[str, SharedSequence]:
        """The shared sequences a scenario can use, read once per shared/ folder (not per file)."""
        key = tuple(shared_step_files(scenario_path))
        if key not in self._shared:
            self._shared[key] = shared_sequences_for(scenario_path)
        return self._shared[key]

    def transport(self) -> Transport:
        """The target's transport; starts the embedded server on first use."""
        if self._transport is not None:
            return self._transport
        if self.opened is None:
            raise HarnessError("no target: pass --scim-target URL|PROFILE|embedded")
        opened = self.opened.start()
        self._transport = Transport(opened.profile, opened.token)
        return self._transport

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        if self.opened is not None:
            self.opened.close()


_SESSION = pytest.StashKey[Session]()
_WRITER = pytest.StashKey["allure_writer.BackgroundFileLogger | None"]()


def _session(config: pytest.Config) -> Session:
    return config.stash[_SESSION]


def session_exchanges(config: pytest.Config) -> list[Any]:
    """Every exchange this session sent to the target, in order (for tools such as bench/)."""
    state = config.stash.get(_SESSION, None)
    transport = state._transport if state is not None else None
    return list(transport.exchanges) if transport is not None else []


@pytest.hookimpl(trylast=True)  # after allure-pytest's: its file logger is replaced below
def pytest_configure(config: pytest.Config) -> None:
    for name, text in (
        ("scim_scenario", "a SCIM conformance scenario item"),
        ("must", "scenario level must"), ("should", "scenario level should"), ("may", "scenario level may"),
        # allure-pytest registers these only when --alluredir is given; we set them always.
        ("allure_label", "allure label"), ("allure_display_name", "allure display name"),
        ("allure_link", "allure link"),
    ):
        config.addinivalue_line("markers", f"{name}: {text}")
    option = config.getoption
    profiles_dir: Path | None
    if option("scim_profiles"):
        profiles_dir = Path(option("scim_profiles"))
        if not (profiles_dir / "idp").is_dir():
            raise pytest.UsageError(f"--scim-profiles {profiles_dir}: no idp/ folder in it")
    else:
        try:
            profiles_dir = find_profiles_dir(config.rootpath)
        except HarnessError:
            profiles_dir = None
    opened = None
    if option("scim_target"):
        # Also turns SIGTERM (how CI cancels a job) into KeyboardInterrupt, so cleanup still runs;
        # only in a conformance run: this plugin is loaded into every pytest session of the environment.
        try:
            opened = prepare_target(option("scim_target"), profiles_dir, insecure=option("scim_insecure"))
        except HarnessError as exc:
            raise pytest.UsageError(str(exc)) from None
    target = opened.profile if opened is not None else None
    run_id = option("scim_run_id") or os.environ.get(RUN_ID_ENV) or new_run_id()
    if target is not None:
        os.environ.setdefault(RUN_ID_ENV, run_id)  # xdist workers inherit the controller's run id
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    idp_filter = {i.strip() for value in option("idp") for i in value.split(",") if i.strip()}
    config.stash[_SESSION] = Session(
        profiles_dir=profiles_dir,
        opened=opened,
        idp_filter=idp_filter,
        run_data=RunData(run_id, email_domain=target.email_domain if target else "example.com",
                         worker=worker.removeprefix("gw"), on_secret=redactor.add_secret),
    )
    if target is not None and not target.embedded and not hasattr(config, "workerinput"):
        state = config.stash[_SESSION]
        config.pluginmanager.register(InterruptedRun(config, run_id, lambda: state._transport, state.transport))
    # A conformance run writes an attachment per exchange: a child process writes them, not the
    # test's thread.
    config.stash[_WRITER] = allure_writer.install(config) if target is not None else None
    if target is not None:
        allure_identity.install(config)  # each IdP variant its own Allure test case


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    # Registered before any plugin's pytest_configure adds its own clean-ups, so it runs after
    # all of them (clean-ups run last-in first-out): pytest's end-of-session garbage collections
    # still find the heap frozen (see pytest_collection_finish) and take milliseconds, not 0.1 s.
    config.add_cleanup(gc.unfreeze)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    state = session.config.stash.get(_SESSION, None)
    if state is not None and state.target is not None:
        # Scenarios, profiles and plugins live as long as the run: keep the collector from
        # walking them again and again while exchanges pile up (GC time of the shipped suite:
        # 0.25 s to 0.07 s). Unfrozen when pytest is done (pytest_cmdline_main).
        gc.freeze()


@pytest.hookimpl(tryfirst=True)  # before anything reads allure-results
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Every queued Allure attachment written; then environment.properties and categories.json
    beside the Allure results of a conformance run."""
    config = session.config
    writer = config.stash.get(_WRITER, None)
    problem = writer.drain() if writer is not None else None
    if problem:  # a report with holes must not look complete
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.write_line(redactor.text(f"scim-conformance: Allure results are incomplete: {problem}"),
                                red=True)
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
    state = config.stash.get(_SESSION, None)
    results = getattr(config.option, "allure_report_dir", None)
    if state is None or state.target is None or not results or hasattr(config, "workerinput"):
        return
    try:
        idps = state.idps()
    except HarnessError:
        return  # the profiles did not load: the collection errors say why
    used = sorted({item.idp_id for item in session.items if isinstance(item, ScenarioItem)})
    parallel = config.pluginmanager.hasplugin("dsession")  # an xdist controller: workers ran the items
    if parallel and not used:
        used = sorted({o.idp for o in read_results(Path(results))})
    advertised: Any = "not read (no scenario ran)"
    if parallel and used and state._transport is None and not state.target.embedded:
        state.transport()  # the controller of a parallel run asks the server itself
    if state._transport is not None and _stop_reason(state._transport) is not None:
        advertised = "not read (the target did not answer)"  # asking again would only wait again
    elif state._transport is not None:
        exchange = state._transport.send("GET", "/ServiceProviderConfig", headers={"Accept": "application/scim+json"},
                                         retry_429=False)
        received = exchange.received
        advertised = (received.json if received is not None and received.status == 200
                      else f"not available ({received.status if received else exchange.error})")
    env = environment(state.target.base_url, state.target.id, used, advertised)
    families = {idps[i].family or idps[i].name for i in used if i in idps}
    write_environment_and_categories(Path(results), {k: redactor.text(v) for k, v in env.items()}, families)


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is not None:
        session.close()


def pytest_report_header(config: pytest.Config) -> list[str]:
    session = config.stash.get(_SESSION, None)
    if session is None or session.target is None:
        return []
    target = session.target
    where = "embedded scim2-server on 127.0.0.1" if target.embedded else redactor.text(target.base_url or "")
    lines = [f"scim-conformance: target {where} (profile {target.id}), run id {session.run_data.run_id}"]
    if not target.embedded and target.auth_type == "bearer" and target.token() is None:
        lines.append(f"scim-conformance: warning: ${target.token_env} is not set: "
                     "requests go without an Authorization header")
    return lines


def failure_cause(error: BaseException | None, report_text: str = "") -> str:
    """The one-line cause of a failed item, as the command's summary shows it (redacted).

    Without an exception (a known deviation that passed: XPASS(strict)) it is the report's text.
    """
    if error is None:
        cause = report_text or "failed"
    else:
        cause = error.title if isinstance(error, TargetDeviation) else (
            f"harness error: {error}" if isinstance(error, HarnessError) else repr(error))
    return redactor.text((str(cause).splitlines() or ["failed"])[0])


@pytest.hookimpl(wrapper=True)  # outside pytest's own: the report is final (xfail turned into XPASS(strict))
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    if isinstance(item, ScenarioItem) and report.failed:
        error = call.excinfo.value if call.excinfo else None
        report.user_properties.append((CAUSE_PROPERTY, failure_cause(error, report.longreprtext)))
    return report


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(SCENARIO_SUFFIX):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    session = _session(config)
    if session.target is None and any(isinstance(i, ScenarioItem) for i in items):
        raise pytest.UsageError(
            "scenario files were collected but no target was given: "
            "pass --scim-target URL, a target profile name, or 'embedded'"
        )
    overridden = {item.scenario.id for item in items
                  if isinstance(item, ScenarioItem) and not _is_shipped(item.path)}
    replaced = [item for item in items if isinstance(item, ScenarioItem) and _is_shipped(item.path)
                and item.scenario.id in overridden]
    if replaced:
        items[:] = [item for item in items if item not in replaced]
        config.hook.pytest_deselected(items=replaced)
    if session.idp_filter and session.profiles_dir:
        known = set(session.idps())
        unknown = session.idp_filter - known
        if unknown:
            raise pytest.UsageError(
                f"--idp {', '.join(sorted(unknown))}: no such IdP profile (known: {', '.join(sorted(known))})"
            )


@functools.lru_cache(maxsize=4096)  # asked for every item of a file, and resolving a path is system calls
def _is_shipped(path: Path) -> bool:
    """Is this one of the scenarios that ship with scim-conformance (not a team's own)?"""
    shipped = _shipped_scenarios()
    return shipped is not None and Path(path).resolve().is_relative_to(shipped)


@functools.cache
def _shipped_scenarios() -> Path | None:
    shipped = shipped_dir("scenarios")  # looked up once: it is asked for every scenario item
    return shipped.resolve() if shipped is not None else None


def _marker_name(text: str) -> str:
    return text.replace("-", "_")


class ScenarioFile(pytest.File):
    """One `*.scenario.yaml` file."""

    def collect(self) -> list[pytest.Item]:
        session = _session(self.config)
        scenario = load_scenario(self.path, session.idps(), shared=session.shared_for(self.path))
        first = session.scenario_ids.setdefault(scenario.id, self.path)
        # A team's own scenario replaces the shipped one with the same id (pytest_collection_
        # modifyitems drops the shipped items); two of the team's own with one id are an error.
        if first != self.path and not (_is_shipped(first) or _is_shipped(self.path)):
            raise ScenarioFileError([Problem(self.path, scenario.line,
                                             f"scenario id {scenario.id!r} is already used by {first}")])
        items: list[pytest.Item] = []
        for idp_id in scenario.idps:
            if session.idp_filter and idp_id not in session.idp_filter:
                continue
            item = ScenarioItem.from_parent(self, name=f"{scenario.id}[{idp_id}]",
                                            scenario=scenario, idp_id=idp_id)
            _mark(item, scenario, idp_id, session)
            items.append(item)
        return items

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, HarnessError):
            return str(excinfo.value)
        return redactor.text(str(super().repr_failure(excinfo)))


def _register_marker(config: pytest.Config, session: Session, name: str, text: str) -> None:
    # Once per name: pytest scans every registered line each time it meets a new marker name.
    if name not in session.markers:
        session.markers.add(name)
        config.addinivalue_line("markers", f"{name}: {text}")


def _mark(item: pytest.Item, scenario: Scenario, idp_id: str, session: Session) -> None:
    """Markers and Allure labels, set at collection so -m and --allure-* filters see them."""
    for tag in scenario.tags:
        _register_marker(item.config, session, tag, "scenario tag")
        item.add_marker(tag)
    idp_marker = _marker_name(idp_id)
    _register_marker(item.config, session, idp_marker, f"replayed as IdP {idp_id}")
    item.add_marker(idp_marker)
    item.add_marker(scenario.level)
    item.add_marker("scim_scenario")
    idp = session.idps()[idp_id]
    # Behaviors tab: IdP > scenario (one feature per provisioning sequence) > IdP variant.
    # Suites tab: scenario family (the folder: okta, entra, rfc, ...) > scenario > variant.
    item.add_marker(pytest.mark.allure_label(idp.family or idp.name, label_type="epic"))
    item.add_marker(pytest.mark.allure_label(scenario.title, label_type="feature"))
    item.add_marker(pytest.mark.allure_label(idp.name, label_type="story"))
    item.add_marker(pytest.mark.allure_label(scenario.family, label_type="parentSuite"))
    item.add_marker(pytest.mark.allure_label(scenario.title, label_type="suite"))
    item.add_marker(pytest.mark.allure_label(idp.name, label_type="subSuite"))
    item.add_marker(pytest.mark.allure_label(SEVERITY[scenario.level], label_type="severity"))
    item.add_marker(pytest.mark.allure_label(f"{scenario.id}[{idp_id}]", label_type="as_id"))
    for tag in scenario.tags:
        item.add_marker(pytest.mark.allure_label(tag, label_type="tag"))
    # Plain facts for tools that read allure-results (the compatibility matrix).
    item.add_marker(pytest.mark.allure_label(scenario.id, label_type="scim_scenario"))
    item.add_marker(pytest.mark.allure_label(idp_id, label_type="scim_idp"))
    item.add_marker(pytest.mark.allure_label(scenario.level, label_type="scim_level"))
    for name, url in ref_links([*scenario.refs, *(ref for step in scenario.steps for ref in step.refs)]):
        item.add_marker(pytest.mark.allure_link(url, link_type="link", name=name))
    item.add_marker(pytest.mark.allure_display_name(f"{scenario.title} [{idp.name}]"))
    if session.target is not None:
        unmet = [c.text for c in scenario.requires if not c.holds(session.target.capabilities)]
        if unmet:
            item.add_marker(pytest.mark.skip(
                reason=f"target {session.target.id!r} does not meet {', '.join(unmet)} (scenario requires it)"))
        known = session.target.known_failure(scenario.id, idp_id)
        if known:
            # strict: once the server is fixed the run fails, so the stale entry gets removed.
            item.add_marker(pytest.mark.xfail(
                reason=f"known deviation of target {session.target.id!r}: {known}", strict=True,
                raises=TargetDeviation))


def _stop_reason(transport: Transport) -> str | None:
    """Why no further scenario can get an answer from the target, if that is so."""
    if transport.down_reason:
        return f"the target is unreachable ({transport.down_reason})"
    if transport.silent_reason:
        return f"the target accepts connections but does not answer ({transport.silent_reason})"
    return None


class ScenarioFailure(TerminalRepr):
    """The runner's one-screen report; `reprcrash` puts its title on pytest's short summary line."""

    def __init__(self, report: str, title: str, path: str, line: int) -> None:
        self.report = report
        self.reprcrash = ReprFileLocation(path, line, title)

    def toterminal(self, tw: Any) -> None:
        for line in self.report.splitlines():
            tw.line(line)


class ScenarioItem(pytest.Item):
    """One scenario replayed as one IdP."""

    def __init__(self, *, scenario: Scenario, idp_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.idp_id = idp_id

    def runtest(self) -> None:
        session = _session(self.config)
        transport = session.transport()
        assert session.target is not None
        runner = Runner(
            transport=transport,
            target=session.target,
            idp=session.idps()[self.idp_id],
            data=session.run_data,
            redactor=redactor,
            reporter=AllureReporter(redactor, deferred=self.config.stash.get(_WRITER, None) is not None),
            time_limit=self.config.getoption("scim_scenario_timeout"),
        )
        try:
            runner.run(self.scenario)
        except TargetDeviation:
            # Refused, unresolvable, TLS-broken, not answering a connect, or taking connections and
            # never answering: every further scenario would fail the same way. One clear message
            # beats forty identical failures.
            stop = _stop_reason(transport)
            if stop:
                self.session.shouldfail = redactor.text(f"{stop}; the remaining scenarios were not run")
            raise

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | TerminalRepr:
        error = excinfo.value
        if isinstance(error, TargetDeviation):
            return ScenarioFailure(error.report, error.title, str(self.path), self.scenario.line)
        if isinstance(error, ScenarioFileError | HarnessError):
            text = redactor.text(f"harness or scenario error: {error}")
            return ScenarioFailure(text, text.splitlines()[0], str(self.path), self.scenario.line)
        return redactor.text(str(super().repr_failure(excinfo)))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.scenario.line - 1, f"{self.scenario.id}[{self.idp_id}]"
