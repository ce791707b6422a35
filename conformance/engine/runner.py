"""Executes a scenario for one IdP: render -> send -> check -> capture, then cleanup.

The runner knows nothing of pytest. It reports through a `Reporter` (Allure in practice) and
signals a target's deviation with `TargetDeviation` (an AssertionError) and a problem of the
harness or the files with `HarnessError`.
"""

from __future__ import annotations

import contextlib
import functools
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from conformance.engine.checks import CHECKS, CheckFailed
from conformance.engine.errors import HarnessError, TargetDeviation, TargetUnreachable
from conformance.engine.exchange import Exchange
from conformance.engine.fakedata import RunData
from conformance.engine.interrupted import left_behind
from conformance.engine.ledger import Ledger, LedgerEntry
from conformance.engine.paging import PASSES, ListReads, PagePass
from conformance.engine.profiles import IdpProfile, TargetProfile
from conformance.engine.redact import Redactor
from conformance.engine.references import reference_lines
from conformance.engine.removal import is_gone, plan_removal
from conformance.engine.resource_ids import UnusableId, prove_created, render_path, reread, runs_names
from conformance.engine.scenario.model import Request, Scenario, Step
from conformance.engine.signals import deferred_interrupts
from conformance.engine.templating import TemplateError, render
from conformance.engine.transport import Transport
from conformance.reporting.reproduce import curl_line, format_received, format_sent

__all__ = ["NullReporter", "Reporter", "Runner", "StepFailure"]

MAX_CONCURRENCY = 16  # threads for a concurrent step; more requests than this queue up


class Reporter(Protocol):
    """Receives what happens during a run (Allure implements it; tests may record it)."""

    def step(self, title: str) -> contextlib.AbstractContextManager[Any]: ...
    def exchange(self, exchange: Exchange, token_env: str) -> None: ...
    def failure(self, title: str, report: str, expected: Any, actual: Any) -> None: ...


class NullReporter:
    def step(self, title: str) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def exchange(self, exchange: Exchange, token_env: str) -> None:
        return None

    def failure(self, title: str, report: str, expected: Any, actual: Any) -> None:
        return None


@dataclass
class StepFailure:
    """The facts of one failed step, rendered into the one-screen failure report."""

    scenario: Scenario
    idp: IdpProfile
    step: Step
    number: int
    reasons: list[str]
    exchange: Exchange | None
    expected: dict[str, Any] = field(default_factory=dict)
    compared: tuple[Any, Any] | None = None  # (expected, actual) of the first failed check
    attempt: str = ""  # which repetition or page, for repeated and paginated steps


@dataclass
class Prepared:
    """A rendered request with its rendered expectations, ready to send."""

    method: str
    path: str
    query: dict[str, Any] | None
    headers: dict[str, Any]
    body: Any
    has_body: bool
    auth: str
    expect: dict[str, Any]

    def arguments(self) -> dict[str, Any]:
        return {"query": self.query, "headers": self.headers, "body": self.body,
                "has_body": self.has_body, "auth": self.auth}


def _attempt(index: int, repeat: int | None) -> str:
    return f"repetition {index} of {repeat}" if repeat else ""


class Runner:
    """Runs scenarios against one target as one IdP."""

    def __init__(
        self,
        transport: Transport,
        target: TargetProfile,
        idp: IdpProfile,
        data: RunData,
        redactor: Redactor,
        reporter: Reporter | None = None,
        time_limit: float | None = None,
    ) -> None:
        self.transport = transport
        self.target = target
        self.idp = idp
        self.data = data
        self.redactor = redactor
        self.reporter = reporter or NullReporter()
        # Seconds for a scenario's steps (the target profile's timeouts.scenario unless given).
        self.time_limit = time_limit or target.scenario_timeout

    # --- scope ------------------------------------------------------------------------------

    def _initial_scope(self, scenario: Scenario) -> dict[str, Any]:
        scope: dict[str, Any] = {
            "run_id": self.data.run_id,
            "fake": self.data,
            "idp": {"id": self.idp.id, "name": self.idp.name},
            "target": {"base_url": self.target.base_url, "capabilities": sorted(self.target.capabilities)},
        }
        for name, value in scenario.vars.items():
            scope[name] = self._render(value, scope, f"{scenario.path}:{scenario.line}: vars.{name}")
        return scope

    def _render(self, value: Any, scope: dict[str, Any], where: str, *, path: bool = False) -> Any:
        try:
            # A path gets every substituted value as one encoded segment (resource_ids says why).
            return render_path(str(value), scope) if path else render(value, scope)
        except TemplateError as exc:
            # Names were checked at load time; what is left is a value of the wrong shape.
            raise HarnessError(f"{where}: {exc}") from None

    def _resolve(self, request: Request) -> Request:
        """Merge the IdP profile's request template under the step's own keys."""
        return self.idp.resolve(request)

    @contextlib.contextmanager
    def _refusing_ids(self, scenario: Scenario, step: Step, number: int) -> Any:
        """Fail the step, with nothing sent, when a path would carry an id that is not one segment."""
        try:
            yield
        except UnusableId as exc:
            self._fail(StepFailure(scenario, self.idp, step, number, [str(exc)], None))

    def _prove(self, entry: LedgerEntry) -> str | None:
        """Why a created resource is not the run's (one GET of its id), or None when it is."""
        return prove_created(lambda path: self._send("GET", path, headers={**self.idp.headers}),
                             entry.collection, entry.id, entry.name, self.data.run_id)

    # --- running ----------------------------------------------------------------------------

    def run(self, scenario: Scenario) -> None:
        """Run every step, then clean up what was created, also when a step failed."""
        ledger = Ledger()
        failure: BaseException | None = None
        try:
            with self.transport.time_limit(self.time_limit, f"the scenario's time limit of {self.time_limit:g} s "
                                           "(timeouts.scenario in the target profile, or --scim-scenario-timeout)"):
                scope = self._initial_scope(scenario)
                for number, step in enumerate(scenario.steps, start=1):
                    self._run_step(scenario, step, number, scope, ledger)
        except BaseException as exc:  # KeyboardInterrupt too: cleanup must still happen
            failure = exc
            raise
        finally:
            budget = self.target.cleanup_budget(len(ledger.pending()))
            with self.transport.time_limit(budget, f"the cleanup's time budget of {budget:g} s (what is left: "
                                           f"scim-conformance cleanup --run-id {self.data.run_id})"):
                self._cleanup(ledger, failed=failure is not None)

    def _run_step(
        self, scenario: Scenario, step: Step, number: int, scope: dict[str, Any], ledger: Ledger
    ) -> None:
        if step.when is not None and not step.when.holds(self.target.capabilities):
            # The target profile says this branch does not apply (e.g. it links users by email).
            with self.reporter.step(f"{number}. {step.name} (skipped: target is not '{step.when.text}')"):
                return
        where = str(step.location)
        with self.reporter.step(f"{number}. {step.name}"), self._refusing_ids(scenario, step, number):
            for name in step.collect:
                if not isinstance(scope.setdefault(name, []), list):
                    raise HarnessError(f"{where}: collect {name!r}: {name!r} is already defined and not a list")
            if step.paginate is not None:
                self._paginate(scenario, step, number, scope, ledger)
                return
            times = step.repeat or 1
            prepared: list[Prepared] = []
            for index in range(1, times + 1):
                if step.repeat:
                    scope["index"] = index
                prepared.append(self._prepare(step, scope))
                if not step.concurrent:
                    request = prepared.pop()
                    with self._held_while_creating(request):
                        exchange = self._send(request.method, request.path, **request.arguments())
                        self._judge(scenario, step, number, scope, ledger, request, exchange,
                                    _attempt(index, step.repeat))
            if step.concurrent:
                # Sent together from threads, reported and judged afterwards in order: the
                # question is whether the server loses one of several simultaneous updates.
                with self._held_while_creating(*prepared):
                    with ThreadPoolExecutor(max_workers=min(len(prepared), MAX_CONCURRENCY)) as pool:
                        exchanges = list(pool.map(
                            lambda r: self.transport.send(r.method, r.path, **r.arguments()), prepared))
                    for index, (request, exchange) in enumerate(zip(prepared, exchanges, strict=True), start=1):
                        self._report_exchange(exchange)
                        self._judge(scenario, step, number, scope, ledger, request, exchange,
                                    _attempt(index, step.repeat) + " (sent concurrently)")

    def _held_while_creating(self, *requests: Prepared) -> contextlib.AbstractContextManager[None]:
        """Interrupts wait while a create is answered and recorded: the ledger must learn its id,
        or cleanup cannot remove it."""
        if not any(request.method == "POST" for request in requests):
            return contextlib.nullcontext()
        return self._interrupts_held()

    def _interrupts_held(self) -> contextlib.AbstractContextManager[None]:
        """Ctrl-C and SIGTERM held back until the block is done; a second one stops at once."""
        return deferred_interrupts(functools.partial(left_behind, self.target, self.data.run_id, self.redactor))

    def _prepare(self, step: Step, scope: dict[str, Any]) -> Prepared:
        """Render the step's vars, request and expectations in the current scope."""
        where = str(step.location)
        for name, value in step.vars.items():
            scope[name] = self._render(value, scope, f"{where}: vars.{name}")
        request = self._resolve(step.request)
        headers = {**self.idp.headers}
        if request.has_body:
            headers.update(self.idp.body_headers)
        if request.headers:
            headers.update(self._render(request.headers, scope, f"{where}: request.headers"))
        return Prepared(
            method=str(self._render(request.method, scope, f"{where}: request.method")).upper(),
            path=str(self._render(request.path, scope, f"{where}: request.path", path=True)),
            query=self._render(request.query, scope, f"{where}: request.query") if request.query else None,
            headers=headers,
            body=self._render(request.body, scope, f"{where}: request.body") if request.has_body else None,
            has_body=request.has_body,
            auth=request.auth,
            expect={k: self._render(v, scope, f"{where}: expect.{k}") for k, v in step.expect.items()},
        )

    def _judge(
        self, scenario: Scenario, step: Step, number: int, scope: dict[str, Any], ledger: Ledger,
        request: Prepared, exchange: Exchange, attempt: str = "",
    ) -> None:
        """Record what was created, run the checks, then capture and collect from the answer."""
        expect = request.expect
        if exchange.received is None:
            # An answer that started but could not be used (too large, cut off, too slow) is still
            # not an answer a check can judge.
            reason = f"no usable answer from the target: {exchange.error}"
            self._fail(StepFailure(scenario, self.idp, step, number, [reason], exchange, expect,
                                   attempt=attempt), unreachable=True)
        claim = ledger.observe(request.method, request.path, exchange, step.name, sent=request.body,
                               proof=self._prove)
        if claim:
            # The step's own checks say first what the target got wrong; the claim, what the run leaves alone.
            reasons, compared = self._check(expect, exchange)
            self._fail(StepFailure(scenario, self.idp, step, number, [*reasons, claim], exchange, expect, compared,
                                   attempt=attempt))
        problem = exchange.received.json_problem
        # A body too deep to walk is a finding whatever the step expects (jsondepth says why).
        reasons, compared = ([problem], None) if problem else self._check(expect, exchange)
        if reasons:
            self._fail(StepFailure(scenario, self.idp, step, number, reasons, exchange, expect, compared,
                                   attempt=attempt))
        for name, expression in step.capture.items():
            scope[name] = self._read_answer(scenario, step, number, exchange, expect, name, expression)
        for name, expression in step.collect.items():
            scope[name].append(self._read_answer(scenario, step, number, exchange, expect, name, expression))

    def _check(self, expect: dict[str, Any], exchange: Exchange) -> tuple[list[str], Any]:
        """Every failed check's message, and (expected, actual) of the first one that has them."""
        reasons: list[str] = []
        compared = None
        for check in sorted((CHECKS[name] for name in expect), key=lambda c: c.order):
            try:
                check.function(expect[check.name], exchange)
            except CheckFailed as exc:
                reasons.append(exc.message)
                if compared is None and (exc.expected is not None or exc.actual is not None):
                    compared = (exc.expected, exc.actual)
                if check.order == 0:
                    break  # a wrong status makes every body check noise
        return reasons, compared

    def _paginate(
        self, scenario: Scenario, step: Step, number: int, scope: dict[str, Any], ledger: Ledger
    ) -> None:
        """Read every page as an IdP import does; `paging` says what the pages must satisfy."""
        pagination = step.paginate
        assert pagination is not None
        request = self._prepare(step, scope)
        where = f"{step.location}: paginate.include"
        include = self._render(pagination.include, scope, where) if pagination.include is not None else []
        if not isinstance(include, list):
            raise HarnessError(f"{where}: renders to a {type(include).__name__}, not a list of ids")
        exchange = None
        reads = ListReads(tuple(str(rid) for rid in include))
        for attempt in range(1, PASSES + 1):
            reading = PagePass(reads.own, pagination.count, pagination.max_pages)
            while reading.start is not None:
                query = {**(request.query or {}), "startIndex": reading.start, "count": pagination.count}
                exchange = self._send(request.method, request.path, **{**request.arguments(), "query": query})
                label = f"page {reading.page + 1}" + (f" of read {attempt}" if attempt > 1 else "")
                self._judge(scenario, step, number, scope, ledger, request, exchange, label)
                reading.read(exchange.received.json if exchange.received else None)
            if reads.add(reading):
                break
        reasons = reads.reasons()
        if reasons:
            read = f"{reading.page} page(s) read" + (f" in read {attempt}" if attempt > 1 else "")
            self._fail(StepFailure(scenario, self.idp, step, number, reasons, exchange, request.expect,
                                   attempt=read))

    def _send(self, method: str, path: str, **request: Any) -> Exchange:
        """Send through the transport and report the exchange with its curl line."""
        exchange = self.transport.send(method, path, **request)
        self._report_exchange(exchange)
        return exchange

    def _report_exchange(self, exchange: Exchange) -> None:
        self.reporter.exchange(exchange, self.target.token_env)

    def _read_answer(
        self, scenario: Scenario, step: Step, number: int, exchange: Exchange,
        expect: dict[str, Any], name: str, expression: str,
    ) -> Any:
        received = exchange.received
        assert received is not None
        answer = {
            "body": received.json if isinstance(received.json, dict | list) else {},
            "headers": {k.lower(): v for k, v in received.headers},
            "status": received.status,
        }
        try:
            return render("${" + expression + "}", answer)
        except TemplateError as exc:
            self._fail(StepFailure(
                scenario, self.idp, step, number,
                [f"cannot capture {name} from the answer: {exc}"], exchange, expect))
            raise AssertionError("unreachable") from None

    def _fail(self, failure: StepFailure, *, unreachable: bool = False) -> None:
        title, report = describe_failure(failure, self.redactor, self.target)
        expected, actual = failure.compared or (failure.expected, None)
        self.reporter.failure(title, report, expected, actual)
        raise (TargetUnreachable if unreachable else TargetDeviation)(title, report)

    # --- cleanup ----------------------------------------------------------------------------

    def _cleanup(self, ledger: Ledger, *, failed: bool) -> None:
        pending = ledger.pending()
        if not pending:
            return
        problems: list[str] = []
        # An interrupt waits until every entry was tried.
        with self._interrupts_held(), self.reporter.step(f"cleanup: {len(pending)} resource(s) this run created"):
            for entry in pending:
                problem = self._remove(entry)
                if problem:
                    problems.append(problem)
        if problems and not failed:
            listed = "\n".join(f"  - {p}" for p in problems)
            report = f"Cleanup of resources this run created failed:\n{listed}"
            raise TargetDeviation(problems[0], self.redactor.text(report))

    def _remove(self, entry: LedgerEntry) -> str | None:
        plan = plan_removal(entry.collection, self.target.capabilities)
        if not plan.sends:
            return f"{entry.path}: left in place ({plan.reason})"
        headers = {**self.idp.headers}
        # Read it again first: only a resource that still carries a name of this run is removed.
        now = reread(entry.collection, self._send("GET", entry.path, headers=headers),
                     runs_names(entry.collection, entry.name, self.data.run_id))
        if now.gone:
            return None
        if not now.ours:
            return f"{entry.path}: left in place ({now.detail})"
        plan = plan_removal(entry.collection, self.target.capabilities, active=now.active)
        if not plan.sends:
            return None  # a user to deactivate that is inactive already
        body = plan.body
        if body is not None:
            # The target cannot delete users (e.g. Grafana): deactivate, as the IdP would.
            headers.update(self.idp.body_headers)
            exchange = self._send(plan.method, entry.path, headers=headers, body=body, has_body=True)
        else:
            exchange = self._send(plan.method, entry.path, headers=headers)
        if exchange.received is None:
            return f"{exchange.sent.method} {entry.path}: {exchange.error}"
        if is_gone(exchange.received.status):
            return None  # 404: the scenario or the server already removed it
        return f"{exchange.sent.method} {entry.path} answered {exchange.received.status}"


def describe_failure(failure: StepFailure, redactor: Redactor, target: TargetProfile) -> tuple[str, str]:
    """The one-line title and the one-screen report of a failed step (already redacted)."""
    step, scenario = failure.step, failure.scenario
    title = f'step {failure.number} "{step.name}": {failure.reasons[0]}'
    received = failure.exchange.received if failure.exchange is not None else None
    reaction = failure.idp.reactions.get(received.status) if received is not None else None
    if reaction:
        title += f" ({failure.idp.name}: {reaction})"
    lines = [
        f"Scenario {scenario.id} [{failure.idp.id}]: {scenario.title}",
        f'Step {failure.number} "{step.name}" ({step.location}'
        + (f", from shared sequence {step.via!r}" if step.via else "")
        + (f", {failure.attempt}" if failure.attempt else "") + ")",
        *([f"  {step.description}"] if step.description else []),
        "",
        *(f"  ✗ {reason}" for reason in failure.reasons),
    ]
    if reaction:
        lines += ["", f"What {failure.idp.name} does with a {received.status}: {reaction}"]
    lines += ["", f"Category: {failure_category(failure)}"]
    if step.refs or step.why or scenario.refs:
        lines += ["", *reference_lines((*step.refs, *scenario.refs), step.why)]
    if failure.exchange is not None:
        lines += ["", "Request:", _indent(format_sent(failure.exchange.sent, redactor))]
        if failure.exchange.received is not None:
            lines += ["", "Response:", _indent(format_received(failure.exchange.received, redactor))]
        else:
            lines += ["", f"Response: none ({failure.exchange.error})"]
    if failure.expected:
        shown = json.dumps(redactor.data(failure.expected), indent=2, ensure_ascii=False)
        lines += ["", "Expected:", _indent(shown)]
    if failure.exchange is not None:
        lines += ["", "Reproduce with:", "  " + curl_line(failure.exchange, redactor, target.token_env)]
    return redactor.text(title), redactor.text("\n".join(lines))


# The failure categories of the report (Allure's categories.json matches the "Category:" line).
NOT_SCIM = "target unreachable or not SCIM"
RFC_DEVIATION = "target deviates from RFC 7643/7644"
RFC_FAMILIES = frozenset({"rfc", "troubleshooting"})


def idp_category(idp_family: str) -> str:
    return f"target deviates from what {idp_family} needs"


def failure_category(failure: StepFailure) -> str:
    """Which kind of problem this is, for the reader who triages a red report."""
    received = failure.exchange.received if failure.exchange is not None else None
    unanswered = failure.exchange is not None and received is None  # no exchange: an id refused before sending
    if unanswered or any(r.startswith("expected a JSON body, got") for r in failure.reasons):
        return NOT_SCIM
    if failure.scenario.family in RFC_FAMILIES:
        return RFC_DEVIATION
    return idp_category(failure.idp.family or failure.idp.name)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
