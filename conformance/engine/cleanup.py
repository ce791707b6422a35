"""Finding and removing what a killed run left on a target, and nothing else.

A run removes what it created when it ends, also on Ctrl-C or SIGTERM; a SIGKILL, a power cut or
a lost network leaves users and groups behind. Every name the run generated starts with
`scimc-<run id>-` (see `conformance.engine.fakedata`), so its leftovers are found with
`filter=userName sw "scimc-<run id>-"` on /Users and `filter=displayName sw "scimc-<run id>-"` on
/Groups, page by page. A server's filter is not trusted: every name is checked again here against
the exact shape the generator produces before anything is removed, and a list answer is not
trusted either: each resource is read again by id (GET), and removed only when that answer carries
a name of the run. Groups go first (they may hold the users), then users, which are deleted, or
deactivated when the target profile says it cannot delete users, by the same rule as the runner's
own cleanup (`conformance.engine.removal`). After each removal a GET checks it: a resource is
reported removed only when it answers 404 (or, deactivated, reads `active: false`); otherwise it is
"still there", whatever the DELETE answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from conformance.engine.exchange import Exchange
from conformance.engine.profiles import TargetProfile
from conformance.engine.redact import Redactor
from conformance.engine.removal import DEACTIVATE, LEAVE, is_gone, plan_removal
from conformance.engine.resource_ids import belongs_to_run, id_problem, name_prefix, reread, resource_path, shown
from conformance.engine.transport import Transport

__all__ = [
    "RUN_ID_PATTERN",
    "Leftover",
    "Removal",
    "belongs_to_run",
    "find_leftovers",
    "name_prefix",
    "remove_leftovers",
]

# What `--scim-run-id` values can safely go between the quotes of a SCIM filter.
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
PAGE_SIZE = 100
MAX_PAGES = 100  # 10,000 leftovers of one run per collection: more means something else is wrong
SCIM_JSON = "application/scim+json"
# Collection, the attribute that carries the generated name; groups first.
COLLECTIONS = (("/Groups", "displayName"), ("/Users", "userName"))


@dataclass(frozen=True)
class Leftover:
    """One resource a run created and did not remove."""

    collection: str  # /Users or /Groups
    id: str
    name: str  # its userName or displayName
    active: bool | None = None

    @property
    def path(self) -> str:
        """The resource's path; for an id that cannot be used in a URL, the id as a report shows it."""
        return resource_path(self.collection, self.id) if id_problem(self.id) is None else \
            f"{self.collection}/{shown(self.id)}"

    @property
    def is_user(self) -> bool:
        return self.collection == "/Users"


@dataclass(frozen=True)
class Removal:
    """What was done (or would be done, in a dry run) to one leftover."""

    leftover: Leftover
    action: str  # deleted, deactivated, already inactive, left in place, failed (or "would ...")
    ok: bool
    detail: str = ""


def _problem_detail(exchange: Any, redactor: Redactor) -> str:
    received = exchange.received
    if received is None:
        return str(exchange.error)
    detail = received.json.get("detail") if isinstance(received.json, dict) else None
    text = f"answered {received.status}" + (f": {detail}" if isinstance(detail, str) and detail else "")
    return redactor.text(text)


def find_leftovers(
    transport: Transport,
    run_id: str,
    redactor: Redactor,
    *,
    page_size: int = PAGE_SIZE,
    max_pages: int = MAX_PAGES,
) -> tuple[list[Leftover], list[str]]:
    """Every group, then every user, that run `run_id` left; and the problems met while listing.

    Uses `sw` filters when the target profile declares `filter`, else lists everything and keeps
    only the run's names. Listing finishes before anything is removed, so removals cannot shift
    the pages.
    """
    if not RUN_ID_PATTERN.match(run_id):
        raise ValueError(f"run id {run_id!r} must match {RUN_ID_PATTERN.pattern}")
    use_filter = "filter" in transport.target.capabilities
    found: list[Leftover] = []
    problems: list[str] = []
    for collection, attribute in COLLECTIONS:
        seen: set[str] = set()
        start = 1
        for _page in range(max_pages):
            query: dict[str, Any] = {"startIndex": start, "count": page_size}
            if use_filter:
                query = {"filter": f'{attribute} sw "{name_prefix(run_id)}"', **query}
            exchange = transport.send("GET", collection, query=query, headers={"Accept": SCIM_JSON})
            received = exchange.received
            if received is None or received.status != 200 or not isinstance(received.json, dict):
                hint = (" (if the server does not support filters, set capabilities: {filter: false} in "
                        "the target profile: cleanup then lists everything and picks the run's names)"
                        if use_filter and received is not None and received.status == 400 else "")
                problems.append(f"cannot list {collection}: {_problem_detail(exchange, redactor)}{hint}")
                break
            resources = received.json.get("Resources") or []
            if not isinstance(resources, list):
                problems.append(f"cannot list {collection}: Resources is not a list")
                break
            for resource in resources:
                if not isinstance(resource, dict) or not isinstance(resource.get("id"), str):
                    continue
                name = resource.get(attribute)
                if resource["id"] in seen or not belongs_to_run(name, run_id):
                    continue  # the server's filter is not trusted: not ours, not touched
                seen.add(resource["id"])
                active = resource.get("active")
                found.append(Leftover(collection, resource["id"], str(name),
                                      active if isinstance(active, bool) else None))
            total = received.json.get("totalResults")
            start += len(resources)
            if not resources or (isinstance(total, int) and start > total):
                break
        else:
            problems.append(f"{collection}: stopped after {max_pages} pages of {page_size}; run cleanup again")
    return found, problems


def _read(transport: Transport, leftover: Leftover) -> Exchange:
    return transport.send("GET", leftover.path, headers={"Accept": SCIM_JSON})


def _remove_one(transport: Transport, target: TargetProfile, leftover: Leftover, run_id: str,
                redactor: Redactor, dry_run: bool) -> Removal:
    if not belongs_to_run(leftover.name, run_id):  # checked again, just before the request
        return Removal(leftover, "left in place", False, f"{leftover.name!r} is not a name run {run_id} generated")
    problem = id_problem(leftover.id)
    if problem:
        return Removal(leftover, "left in place", False, f"its id cannot be used in a URL ({problem})")
    plan = plan_removal(leftover.collection, target.capabilities, active=leftover.active)
    if plan.action == LEAVE:
        return Removal(leftover, "left in place", False, plan.reason)
    # The list answer is not proof: the id must name, read by itself, a resource of the run.
    now = reread(leftover.collection, _read(transport, leftover), lambda found: belongs_to_run(found, run_id))
    if now.gone:
        return Removal(leftover, "already gone", True)
    if not now.ours:
        return Removal(leftover, "left in place", False, redactor.text(now.detail))
    plan = plan_removal(leftover.collection, target.capabilities, active=now.active)
    if not plan.sends:
        return Removal(leftover, plan.action, True)
    if dry_run:
        return Removal(leftover, f"would be {plan.done}", True)
    body = plan.body
    headers = {"Accept": SCIM_JSON, **({"Content-Type": SCIM_JSON} if body is not None else {})}
    exchange = transport.send(plan.method, leftover.path, headers=headers, body=body, has_body=body is not None)
    received = exchange.received
    if received is None or not is_gone(received.status):
        return Removal(leftover, "failed", False, f"{plan.method} {_problem_detail(exchange, redactor)}")
    # Believed only once seen: a server may answer 204 and keep the resource.
    after = reread(leftover.collection, _read(transport, leftover), lambda found: True)
    if after.gone:
        # 404 to the removal: someone (or the run itself, late) removed it meanwhile; gone either way.
        return Removal(leftover, plan.done if received.status != 404 else "already gone", True)
    if plan.action == DEACTIVATE and after.active is False:
        return Removal(leftover, plan.done, True)
    if after.ours:
        kept = "active" if plan.action == DEACTIVATE else "there"
        return Removal(leftover, "still there", False,
                       f"{plan.method} answered {received.status}, but a GET still finds it {kept}")
    return Removal(leftover, "not verified", False,
                   f"{plan.method} answered {received.status}; {redactor.text(after.detail)}")


def remove_leftovers(
    transport: Transport,
    leftovers: list[Leftover],
    run_id: str,
    redactor: Redactor,
    *,
    dry_run: bool = False,
) -> list[Removal]:
    """Remove groups first, then users; one `Removal` per leftover, in that order."""
    ordered = sorted(leftovers, key=lambda leftover: leftover.is_user)  # stable: groups, then users
    return [_remove_one(transport, transport.target, leftover, run_id, redactor, dry_run) for leftover in ordered]
