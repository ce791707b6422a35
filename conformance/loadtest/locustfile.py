"""The load replay's provisioning cycle as a Locust file: Locust's master/worker mode spreads it.

`scim-conformance load` runs the cycle from one process. For more than one machine can send,
Locust is the engine (its master hands out users to workers and merges their statistics); this
file gives it the same cycle, rendered from the same IdP profile by the same code
(`conformance.loadtest.templates.CycleTemplates`):

* each Locust user looks up and creates up to `--scim-users-per-locust` users (`lookup_user`,
  `create_user`), creates one group (`lookup_group`, `create_group`) and adds its users to it in
  PATCHes of `--scim-batch` (`add_members`), up to `--scim-members`;
* once its users are created it runs the incremental cycle: profile updates (`update_user`) of
  random users of its own.

Locust statistics are named after the profile's templates (`lookup_user`, `create_user`, ...).
When a worker (or a single local process) quits, it removes what its users created, groups
first, then users (deactivated instead when the target profile cannot delete users: the harness's
removal rule, `conformance.engine.removal`), outside the statistics. Generated names carry the run
id (`--scim-run-id`, the master's is sent to every worker), so `scim-conformance cleanup --run-id`
finds anything a killed worker left.

    SCIM_TOKEN=... locust -f conformance/loadtest/locustfile.py --headless --master --expect-workers 2 \\
        --host http://127.0.0.1:8080/v2 -u 8 -r 4 -t 60s --scim-idp entra
    SCIM_TOKEN=... locust -f conformance/loadtest/locustfile.py --worker --master-host 127.0.0.1   # twice

`--host` is the SCIM base URL; `--scim-target PROFILE` adds a target profile's capabilities, TLS
and timeouts (the embedded target cannot be used: start a server and give its URL). See
docs/performance.md.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from locust import FastHttpUser, events, task
from locust.runners import MasterRunner, WorkerRunner

from conformance.engine.errors import HarnessError
from conformance.engine.fakedata import RunData, new_run_id
from conformance.engine.paths import find_profiles_dir
from conformance.engine.profiles import IdpProfile, TargetProfile, load_idp_profiles, resolve_target, with_base_url
from conformance.engine.redact import redactor
from conformance.engine.removal import is_gone
from conformance.loadtest.client import Answer, LeanClient
from conformance.loadtest.templates import CycleTemplates, Rendered, created_id, found_existing, lean_run_data

log = logging.getLogger("scim-load")
CLEANUP_TIMEOUT_S = 120.0


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("scim-conformance load replay")
    group.add_argument("--scim-target", default="", metavar="PROFILE",
                       help="target profile (name or file) for capabilities, TLS and timeouts; "
                            "--host gives the base URL")
    group.add_argument("--scim-idp", default="entra", metavar="ID", help="IdP profile to replay (default: entra)")
    group.add_argument("--scim-users-per-locust", type=int, default=100, metavar="N",
                       help="users each Locust user creates before it only updates (default: 100)")
    group.add_argument("--scim-members", type=int, default=50, metavar="M",
                       help="members of each Locust user's group (default: 50)")
    group.add_argument("--scim-batch", type=int, default=50, metavar="B", help="members per PATCH (default: 50)")
    group.add_argument("--scim-run-id", default=new_run_id(), metavar="ID",
                       help="run id in generated names (default: the master's random one)")
    group.add_argument("--scim-report", default="", metavar="FILE",
                       help="master: write requests per worker and the run id as JSON")


class _Setup:
    """What every Locust user of this process shares: profiles, target, token, created ids."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loaded: tuple[TargetProfile, IdpProfile, str | None] | None = None
        self.users: list[str] = []
        self.groups: list[str] = []
        self.sequence = 0
        self.requests = 0  # sent by this process (a worker reports it to the master)
        self.per_worker: Counter[str] = Counter()  # master: requests by worker

    def load(self, options: Any, host: str | None) -> tuple[TargetProfile, IdpProfile, str | None]:
        with self.lock:
            if self.loaded is None:
                profiles = find_profiles_dir()
                spec = options.scim_target or host
                if not spec:
                    raise HarnessError("give --host (the SCIM base URL) or --scim-target")
                target = resolve_target(spec, profiles)
                if host:
                    target = with_base_url(target, host)
                if not target.base_url:
                    raise HarnessError("the embedded target cannot be used from Locust: start a server "
                                       "(python -m conformance.engine.embedded) and give its URL as --host")
                idps = load_idp_profiles(profiles)
                if options.scim_idp not in idps:
                    raise HarnessError(f"--scim-idp {options.scim_idp}: no such IdP profile")
                token = target.token()
                redactor.add_secret(token)
                self.loaded = (target, idps[options.scim_idp], token)
            return self.loaded

    def next_number(self) -> int:
        with self.lock:
            self.sequence += 1
            return self.sequence


SETUP = _Setup()


class ScimIdpUser(FastHttpUser):
    """One provisioning agent of the IdP: creates its users and its group, then updates."""

    host = None  # --host is the SCIM base URL

    def on_start(self) -> None:
        options = self.environment.parsed_options
        target, idp, token = SETUP.load(options, self.environment.host)
        runner = self.environment.runner
        worker = getattr(runner, "worker_index", 0) if isinstance(runner, WorkerRunner) else 0
        # Digits only after "w" (cleanup recognises scimc-<run>-w<digits>-<n>): worker, then user.
        data = lean_run_data(options.scim_run_id, target.email_domain, f"{worker + 1}{SETUP.next_number():05d}")
        self.t = CycleTemplates(idp, target, token, data)
        self.max_users = max(0, options.scim_users_per_locust)
        self.members = max(0, options.scim_members)
        self.batch = max(1, options.scim_batch)
        self.mine: list[str] = []
        self.currents: dict[str, Any] = {}
        self.user_data: dict[str, Any] = {}
        self.group_data: dict[str, Any] = {}
        self.group_id: str | None = None
        self.group_tried = False
        self.in_group = 0

    def _send(self, name: str, rendered: Rendered) -> tuple[int, bytes]:
        with self.client.request(rendered.method, rendered.url, name=name, headers=rendered.headers,
                                 data=rendered.body, catch_response=True) as response:
            status = response.status_code or 0
            if 200 <= status < 300:
                response.success()
            else:
                response.failure(f"{status}")
            return status, response.content or b""

    def _answer(self, name: str, rendered: Rendered) -> Answer:
        status, body = self._send(name, rendered)
        return Answer(status, body, 0.0)

    @task
    def cycle(self) -> None:
        if len(self.mine) < self.max_users:
            self._provision_user()
            if not self.group_tried and self.t.create_group and self.members:
                self._create_group()
            self._add_members()
        elif self.t.update and self.mine:
            user_id = random.choice(self.mine)
            self._send(self.t.update, self.t.render(self.t.update,
                                                    self.t.update_scope(user_id, self.currents.get(user_id),
                                                                        self.user_data.get(user_id))))
        else:
            self.stop()  # nothing left to do for this agent

    def _provision_user(self) -> None:
        scope = self.t.user_scope()
        if self.t.lookup_user:
            if found_existing(self._answer(self.t.lookup_user, self.t.render(self.t.lookup_user, scope))):
                return
        resource_id, body = created_id(self._answer("create_user", self.t.render("create_user", scope)))
        if resource_id:
            self.mine.append(resource_id)
            with SETUP.lock:
                SETUP.users.append(resource_id)
            if self.t.keeps_current:
                self.currents[resource_id] = body
            if self.t.keeps_user:
                self.user_data[resource_id] = scope["user"]

    def _create_group(self) -> None:
        assert self.t.create_group is not None
        self.group_tried = True
        scope = self.t.group_scope()
        if self.t.lookup_group and found_existing(
                self._answer(self.t.lookup_group, self.t.render(self.t.lookup_group, scope))):
            return
        self.group_id = created_id(self._answer(self.t.create_group, self.t.render(self.t.create_group, scope)))[0]
        if self.group_id:
            self.group_data = scope["group"]
            with SETUP.lock:
                SETUP.groups.append(self.group_id)

    def _add_members(self) -> None:
        if not (self.group_id and self.t.add_members) or self.in_group >= self.members:
            return
        waiting = self.mine[self.in_group:self.members]
        if len(waiting) >= self.batch or (waiting and len(self.mine) >= self.max_users):
            chosen = waiting[: self.batch]
            self._send(self.t.add_members, self.t.render(
                self.t.add_members, self.t.members_scope(self.group_data, self.group_id, chosen)))
            self.in_group += len(chosen)


# --- counting per worker, cleanup -------------------------------------------------------------

@events.request.add_listener
def _count(**_: Any) -> None:
    SETUP.requests += 1


@events.report_to_master.add_listener
def _report(client_id: str, data: dict[str, Any]) -> None:
    data["scim_requests"] = SETUP.requests


@events.worker_report.add_listener
def _collect(client_id: str, data: dict[str, Any]) -> None:
    if "scim_requests" in data:
        SETUP.per_worker[client_id] = max(SETUP.per_worker[client_id], data["scim_requests"])


@events.quitting.add_listener
def _quit(environment: Any, **_: Any) -> None:
    options = environment.parsed_options
    if isinstance(environment.runner, MasterRunner):
        if options and options.scim_report:
            Path(options.scim_report).write_text(json.dumps({
                "run_id": options.scim_run_id, "workers": dict(SETUP.per_worker),
            }, indent=2), encoding="utf-8")
        return
    _cleanup()


def _cleanup() -> None:
    """Remove what this process's users created: groups, then users; not counted in the stats."""
    if SETUP.loaded is None or not (SETUP.users or SETUP.groups):
        return
    target, idp, token = SETUP.loaded
    templates = CycleTemplates(idp, target, token, RunData("cleanup"))
    client = LeanClient(target)
    deadline = time.monotonic() + CLEANUP_TIMEOUT_S
    outcome: Counter[str] = Counter()
    for collection, ids in (("/Groups", SETUP.groups), ("/Users", SETUP.users)):
        for resource_id in ids:
            how = templates.removal(collection, resource_id) if time.monotonic() < deadline else None
            if how is None:
                outcome["left"] += 1
                continue
            plan, rendered = how
            try:
                ok = is_gone(client.send(rendered.method, rendered.url, rendered.headers, rendered.body).status)
            except Exception:  # counted; `cleanup --run-id` finds what is left
                ok = False
            outcome[plan.done if ok else "failed"] += 1
    client.close()
    SETUP.users.clear()
    SETUP.groups.clear()
    print(f"scim-load cleanup (pid {os.getpid()}): " + ", ".join(f"{k}: {v}" for k, v in sorted(outcome.items())),
          file=sys.stderr, flush=True)
