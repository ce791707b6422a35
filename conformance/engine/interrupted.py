"""What a run does when it is interrupted: removes everything carrying its run id, and says what is left.

Each scenario removes what its ledger holds, but an interrupt can land between a create request
and the ledger learning the new id (the answer is still on its way, the id is being verified), and
the scenario then cannot know the resource exists. Every name a run generates carries its run id,
so after an interrupt the run sweeps the target for them as `scim-conformance cleanup --run-id`
does (same listing, same checks, `conformance.engine.cleanup`), with interrupts held back
(`conformance.engine.signals`). When a second interrupt stops that, the user gets the command
that finishes it.
"""

from __future__ import annotations

import shlex

from conformance.engine.cleanup import find_leftovers, remove_leftovers
from conformance.engine.profiles import TargetProfile
from conformance.engine.redact import Redactor
from conformance.engine.signals import deferred_interrupts
from conformance.engine.transport import Transport

__all__ = ["cleanup_command", "left_behind", "sweep"]


def cleanup_command(target: TargetProfile, run_id: str, redactor: Redactor) -> str | None:
    """`scim-conformance cleanup --target ... --run-id ...` for what run `run_id` left on `target`;
    None for the embedded server, whose data ends with the process. Never holds a token."""
    if target.embedded or not target.base_url:
        return None
    where = str(target.path) if target.path is not None else target.base_url
    command = ["scim-conformance", "cleanup", "--target", redactor.text(where), "--run-id", run_id]
    if target.verify_tls is False:
        command.append("--insecure")
    return shlex.join(command)


def left_behind(target: TargetProfile, run_id: str, redactor: Redactor) -> str:
    """What to tell someone who stopped a cleanup: what may be left, and the command that removes it."""
    command = cleanup_command(target, run_id, redactor)
    if command is None:
        return "the embedded server's data ends with the run: nothing is left behind"
    return f"what run {run_id} created may be left on the target; remove it with:\n  {command}"


def sweep(transport: Transport, run_id: str, redactor: Redactor) -> str:
    """Find and remove what run `run_id` left on the transport's target, interrupts held back;
    one line saying what was done. Raises CleanupAbandoned on a second interrupt."""
    target = transport.target
    with deferred_interrupts(lambda: left_behind(target, run_id, redactor)):
        leftovers, problems = find_leftovers(transport, run_id, redactor)
        removals = remove_leftovers(transport, leftovers, run_id, redactor)
    failed = [removal for removal in removals if not removal.ok]
    line = f"{len(leftovers)} resource(s) of run {run_id} found after the interrupt, {len(failed)} not removed"
    if failed or problems:
        line += f" ({'; '.join([*problems, *(f'{r.leftover.path}: {r.action}' for r in failed[:5])])})"
        line += f"; {left_behind(target, run_id, redactor)}"
    return line
