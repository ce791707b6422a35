"""The load replay's run: an IdP's initial provisioning cycle, sent at scale, then removed again.

The cycle is the one an IdP runs when an app is first assigned (Entra calls it the initial
cycle), sent the way the IdP profile says (`conformance.loadtest.templates`):

1. users: for every user, a lookup by userName (`lookup_user`), then the create (`create_user`);
2. groups: for every group, a lookup (`lookup_group`) and the create (`create_group`);
3. members: each group gets `--members` of the created users, added in PATCHes of `--batch`
   (`add_members`);
4. updates: the incremental cycle that follows: one profile change per created user
   (`update_user`, or `replace_attribute` of displayName).

Requests go out from `--concurrency` threads and stop being sent after `--duration` seconds.
Then everything the run created is removed by the harness's removal rule
(`conformance.engine.removal`: groups, then users; users are deactivated instead when the target
profile says it cannot delete them), and nothing else: only ids the server returned to this run's
own creates are touched. Generated names start with `scimc-<run id>-`, so
`scim-conformance cleanup --run-id` finds what a killed load left.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.engine.errors import HarnessError
from conformance.engine.fakedata import new_run_id
from conformance.engine.interrupted import left_behind
from conformance.engine.profiles import IdpProfile, TargetProfile
from conformance.engine.redact import redactor
from conformance.engine.removal import is_gone
from conformance.engine.resource_ids import belongs_to_run, carries_name, resource_path
from conformance.engine.signals import deferred_interrupts
from conformance.loadtest.client import Answer, LeanClient, LoadTransportError
from conformance.loadtest.report import build_report, render_report
from conformance.loadtest.stats import MAX_ERROR_SAMPLES, PhaseStats, Recorder
from conformance.loadtest.templates import CycleTemplates, Rendered, created_id, found_existing, lean_run_data

__all__ = ["LoadOptions", "LoadRun", "run_load"]


@dataclass(frozen=True)
class LoadOptions:
    users: int = 100
    groups: int = 5
    members: int = 50
    batch: int = 50
    updates: int | None = None  # default: every created user
    concurrency: int = 8
    duration: float = 60.0
    cleanup_timeout: float = 300.0
    progress: bool | None = None  # None: when stderr is a terminal


@dataclass
class _Phase:
    name: str
    total: int
    task: Callable[[int, Recorder], int]  # runs item i, returns requests sent
    started: float = 0.0
    ended: float = 0.0
    done: int = 0  # items finished
    requests: int = 0


class LoadRun:
    """One load replay: the cycle's phases with bounded concurrency and time, then cleanup."""

    def __init__(self, templates: CycleTemplates, client: LeanClient, options: LoadOptions) -> None:
        self.t = templates
        self.client = client
        self.options = options
        self.created_users: list[str | None] = [None] * options.users
        self.currents: list[Any] = [None] * options.users if templates.keeps_current else []
        self.user_data: list[Any] = [None] * options.users if templates.keeps_user else []
        self.group_data: list[dict[str, Any]] = [{} for _ in range(options.groups)]
        self.created_groups: list[str | None] = [None] * options.groups
        self.existing = Counter[str]()
        self.not_ours = Counter[str]()  # created ids whose resource did not carry the run's name
        self.memberships = 0
        self.recorders: list[Recorder] = []
        self._recorders_lock = threading.Lock()
        self.stop = threading.Event()
        self.stopped_reason: str | None = None
        self.phases: list[_Phase] = []
        self.current: _Phase | None = None
        self._member_tasks: list[tuple[int, str, list[str]]] = []  # group index, group id, member ids
        self._update_ids: list[int] = []

    # --- one request ---

    def _send(self, recorder: Recorder, phase: str, name: str, rendered: Rendered) -> Answer | None:
        try:
            answer = self.client.send(rendered.method, rendered.url, rendered.headers, rendered.body)
        except LoadTransportError as exc:
            recorder.record(phase, f"error: {exc.kind}", None)
            self._sample(recorder, phase, name, rendered.method, f"error: {exc.kind}", None)
            return None
        recorder.record(phase, str(answer.status), answer.elapsed_ms)
        if answer.status >= 400:
            self._sample(recorder, phase, name, rendered.method, str(answer.status), answer)
        return answer

    def _sample(self, recorder: Recorder, phase: str, name: str, method: str, status: str,
                answer: Answer | None) -> None:
        if len(recorder.samples) >= MAX_ERROR_SAMPLES:
            return
        sample: dict[str, Any] = {"phase": phase, "request": name, "method": method, "status": status}
        body = answer.json() if answer is not None else None
        if isinstance(body, dict):
            for key in ("scimType", "detail"):
                if isinstance(body.get(key), str):
                    sample[key] = redactor.text(body[key][:200])
        recorder.samples.append(sample)

    def _carries_run_name(self, recorder: Recorder, phase: str, collection: str, resource_id: str) -> bool | None:
        """Read the resource by id: True when it carries a name this run generated, False when it
        does not, None when it is gone (404) or could not be read."""
        answer = self._send(recorder, phase, f"read {collection[1:].lower()}",
                            self.t.raw("GET", resource_path(collection, resource_id)))
        if answer is None or answer.status == 404:
            return None
        body = answer.json() if answer.status == 200 else None
        return carries_name(collection, body, lambda name: belongs_to_run(name, self.t.data.run_id))

    def _proven(self, recorder: Recorder, phase: str, collection: str, resource_id: str) -> str | None:
        """`resource_id` when a GET of it reads back a name this run generated, else None.

        A create answer may name a resource the run did not create (a buggy server, a cache, an id
        collision): as in a scenario run, only what the run can show is its own is updated or removed.
        """
        if self._carries_run_name(recorder, phase, collection, resource_id):
            return resource_id
        self.not_ours[phase] += 1
        return None

    # --- the phases' items ---

    def _look_up(self, recorder: Recorder, phase: str, template: str | None, scope: dict[str, Any]) -> tuple[int, bool]:
        """The lookup the IdP sends before a create: (requests sent, whether the create follows)."""
        if not template:
            return 0, True
        answer = self._send(recorder, phase, template, self.t.render(template, scope))
        if answer is None:
            return 1, False
        if found_existing(answer):
            with self._recorders_lock:
                self.existing[phase] += 1  # the IdP matches it; the load never touches it
            return 1, False
        return 1, True

    def _user(self, i: int, recorder: Recorder) -> int:
        scope = self.t.user_scope()
        sent, create = self._look_up(recorder, "users", self.t.lookup_user, scope)
        if not create:
            return sent
        answer = self._send(recorder, "users", "create_user", self.t.render("create_user", scope))
        sent += 1
        if answer is not None:
            resource_id, body = created_id(answer)
            if resource_id:
                sent += 1
                resource_id = self._proven(recorder, "users", "/Users", resource_id)
            self.created_users[i] = resource_id
            if resource_id and self.currents:
                self.currents[i] = body
            if resource_id and self.user_data:
                self.user_data[i] = scope["user"]
        return sent

    def _group(self, g: int, recorder: Recorder) -> int:
        assert self.t.create_group is not None
        scope = self.t.group_scope()
        sent, create = self._look_up(recorder, "groups", self.t.lookup_group, scope)
        if not create:
            return sent
        answer = self._send(recorder, "groups", self.t.create_group, self.t.render(self.t.create_group, scope))
        sent += 1
        if answer is not None:
            resource_id = created_id(answer)[0]
            if resource_id:
                sent += 1
                resource_id = self._proven(recorder, "groups", "/Groups", resource_id)
            self.created_groups[g] = resource_id
            self.group_data[g] = scope["group"]
        return sent

    def _members(self, k: int, recorder: Recorder) -> int:
        assert self.t.add_members is not None
        g, group_id, member_ids = self._member_tasks[k]
        scope = self.t.members_scope(self.group_data[g], group_id, member_ids)
        answer = self._send(recorder, "members", self.t.add_members, self.t.render(self.t.add_members, scope))
        if answer is not None and 200 <= answer.status < 300:
            with self._recorders_lock:
                self.memberships += len(member_ids)
        return 1

    def _update(self, k: int, recorder: Recorder) -> int:
        assert self.t.update is not None
        i = self._update_ids[k]
        user_id = self.created_users[i]
        assert user_id is not None
        current = self.currents[i] if self.currents else None
        user = self.user_data[i] if self.user_data else None
        rendered = self.t.render(self.t.update, self.t.update_scope(user_id, current, user))
        self._send(recorder, "updates", self.t.update, rendered)
        return 1

    # --- running a phase ---

    def _run_phase(self, phase: _Phase, deadline: float) -> None:
        self.phases.append(phase)
        self.current = phase
        phase.started = time.perf_counter()
        counter = itertools.count()
        lock = threading.Lock()
        problems: list[BaseException] = []

        def work() -> None:
            recorder = Recorder()
            with self._recorders_lock:
                self.recorders.append(recorder)
            try:
                while not self.stop.is_set():
                    i = next(counter)
                    if i >= phase.total:
                        return
                    if time.perf_counter() >= deadline:
                        self.stopped_reason = self.stopped_reason or f"time limit reached during {phase.name}"
                        self.stop.set()
                        return
                    sent = phase.task(i, recorder)
                    with lock:
                        phase.done += 1
                        phase.requests += sent
            except BaseException as exc:  # a harness error in a template: stop everything, report it
                problems.append(exc)
                self.stop.set()
            finally:
                self.client.close()

        threads = [threading.Thread(target=work, name=f"load-{phase.name}-{n}", daemon=True)
                   for n in range(min(self.options.concurrency, max(phase.total, 1)))]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except KeyboardInterrupt:
            # Ctrl-C: no new item starts; the ones in flight finish (bounded by the read timeout)
            # so that cleanup sees every id the server gave out.
            self.stop.set()
            for thread in threads:
                thread.join()
            raise
        finally:
            phase.ended = time.perf_counter()
        if problems:
            raise problems[0]

    def run(self, deadline: float) -> None:
        """The four phases, in order; each starts when the previous one has finished."""
        o = self.options
        self._run_phase(_Phase("users", o.users, self._user), deadline)
        if self.stop.is_set():
            return
        if o.groups and self.t.create_group:
            self._run_phase(_Phase("groups", o.groups, self._group), deadline)
        if self.stop.is_set():
            return
        created = [u for u in self.created_users if u]
        if o.members and created and self.t.add_members:
            per_group = min(o.members, len(created))
            for g, group_id in enumerate(self.created_groups):
                if not group_id:
                    continue
                chosen = [created[(g * per_group + k) % len(created)] for k in range(per_group)]
                self._member_tasks += [(g, group_id, chosen[s:s + o.batch]) for s in range(0, per_group, o.batch)]
            if self._member_tasks:
                self._run_phase(_Phase("members", len(self._member_tasks), self._members), deadline)
        if self.stop.is_set():
            return
        if self.t.update:
            with_ids = [i for i, u in enumerate(self.created_users) if u]
            self._update_ids = with_ids[: o.updates if o.updates is not None else len(with_ids)]
            if self._update_ids:
                self._run_phase(_Phase("updates", len(self._update_ids), self._update), deadline)

    # --- cleanup ---

    def cleanup(self, timeout: float) -> dict[str, Any]:
        """Remove what this run created, groups first, within `timeout` seconds."""
        started = time.perf_counter()
        deadline = started + timeout
        jobs: list[tuple[str, str]] = [("/Groups", g) for g in self.created_groups if g]
        groups_end = len(jobs)
        jobs += [("/Users", u) for u in self.created_users if u]
        outcome: Counter[str] = Counter()
        left: list[str] = []
        lock = threading.Lock()

        def remove(collection: str, resource_id: str, rec: Recorder) -> None:
            # Read again just before removing: what no longer carries the run's name is left alone.
            ours = self._carries_run_name(rec, "cleanup", collection, resource_id)
            if ours is False:
                with lock:
                    outcome["left in place (no longer the run's)"] += 1
                    left.append(f"{collection}/{resource_id}")
                return
            how = self.t.removal(collection, resource_id)
            if how is None:
                with lock:
                    outcome["left in place (target cannot remove)"] += 1
                    left.append(f"{collection}/{resource_id}")
                return
            plan, rendered = how
            answer = self._send(rec, "cleanup", f"{plan.action} {collection}", rendered)
            ok = answer is not None and is_gone(answer.status)
            with lock:
                if ok:
                    outcome[f"{plan.done} {collection[1:].lower()}"] += 1
                else:
                    outcome["failed"] += 1
                    left.append(f"{collection}/{resource_id}")

        # Groups first (they hold the users), then users; each part with the run's concurrency.
        for part in (jobs[:groups_end], jobs[groups_end:]):
            counter = itertools.count()

            def work(part: list[tuple[str, str]] = part, counter: Iterator[int] = counter) -> None:
                rec = Recorder()
                with self._recorders_lock:
                    self.recorders.append(rec)
                try:
                    while True:
                        i = next(counter)
                        if i >= len(part):
                            return
                        if time.perf_counter() >= deadline:
                            with lock:
                                left.append(f"{part[i][0]}/{part[i][1]}")
                                outcome["not removed (cleanup time limit)"] += 1
                            continue
                        remove(*part[i], rec)
                finally:
                    self.client.close()

            threads = [threading.Thread(target=work, daemon=True)
                       for _ in range(min(self.options.concurrency, max(len(part), 1)))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        return {"elapsed_s": round(time.perf_counter() - started, 3), "outcome": dict(outcome),
                "left": left[:100], "left_count": len(left), "complete": not left}

    # --- results ---

    def merged(self) -> tuple[dict[str, PhaseStats], list[dict[str, Any]]]:
        merged: dict[str, PhaseStats] = {}
        samples: list[dict[str, Any]] = []
        with self._recorders_lock:
            recorders = list(self.recorders)
        for recorder in recorders:
            for name, stats in recorder.phases.items():
                merged.setdefault(name, PhaseStats()).merge(stats)
            samples += recorder.samples
        return merged, samples[:MAX_ERROR_SAMPLES]

    def progress_line(self, started: float, duration: float) -> str:
        phase = self.current
        sent = sum(p.requests for p in self.phases)
        elapsed = time.perf_counter() - started
        where = f"{phase.name} {phase.done}/{phase.total}" if phase else "starting"
        return (f"load: {where}  requests {sent}  {sent / elapsed if elapsed > 0 else 0:,.0f}/s  "
                f"{elapsed:.0f}s of {duration:.0f}s")


def run_load(target: TargetProfile, token: str | None, idp: IdpProfile, options: LoadOptions, *,
             run_id: str | None = None, out: Path | None = None, stream: Any = None) -> dict[str, Any]:
    """Run the cycle against `target` (a concrete base URL) and return the report (also as JSON in `out`)."""
    stream = stream or sys.stdout
    run_id = run_id or new_run_id()
    redactor.add_secret(token)
    data = lean_run_data(run_id, target.email_domain)
    templates = CycleTemplates(idp, target, token, data)
    client = LeanClient(target)
    run = LoadRun(templates, client, options)
    where = redactor.text(target.base_url or "")
    print(f"Load replay: {idp.name} ({idp.id}) initial cycle against {where}, run id {run_id}", file=stream)
    print(f"  {options.users} users, {options.groups} groups of {options.members} members in batches of "
          f"{options.batch}, concurrency {options.concurrency}, at most {options.duration:g}s", file=stream)
    show = sys.stderr.isatty() if options.progress is None else options.progress
    started_at = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    done = threading.Event()

    def progress() -> None:
        while not done.wait(0.25):
            print("\r" + run.progress_line(started, options.duration) + " " * 8, end="", file=sys.stderr, flush=True)

    ticker = threading.Thread(target=progress, daemon=True) if show else None
    if ticker:
        ticker.start()
    interrupted = False
    harness_error: str | None = None
    try:
        run.run(started + options.duration)
    except KeyboardInterrupt:
        interrupted = True
        run.stop.set()
        run.stopped_reason = "interrupted"
    except HarnessError as exc:  # a template the cycle cannot render: stop, but still clean up
        harness_error = str(exc)
        run.stopped_reason = f"harness error: {exc}"
    finally:
        done.set()
        if ticker:
            ticker.join()
            print("\r" + run.progress_line(started, options.duration), file=sys.stderr, flush=True)
    provisioning_s = time.perf_counter() - started
    print(f"Removing what the run created ({sum(map(bool, run.created_groups))} groups, "
          f"{sum(map(bool, run.created_users))} users)...", file=sys.stderr, flush=True)
    cleanup = {"complete": False, "left_count": None, "outcome": {"interrupted": 1}, "left": []}
    try:
        # An interrupt waits until every removal was tried (a second one stops at once).
        with deferred_interrupts(functools.partial(left_behind, target, run_id, redactor)):
            cleanup = run.cleanup(options.cleanup_timeout)
    except KeyboardInterrupt:  # held until the cleanup was done (its outcome is kept), or a second one
        interrupted = True
    report = build_report(run, idp, options, run_id=run_id, where=where, started_at=started_at,
                          provisioning_s=provisioning_s, cleanup=cleanup)
    if interrupted:
        report["stopped"] = "interrupted"
    if harness_error:
        report["harness_error"] = harness_error
    print(render_report(report), file=stream)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"JSON:      {out}", file=stream)
    return report
