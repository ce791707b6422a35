"""The end of an interrupted conformance run: nothing of the run left on the target, or the command
that removes it.

Registered by the plugin for a run against a target (in the xdist controller, not in its workers).
Each scenario has removed what its ledger held when pytest sees the interrupt; this sweeps the run
id for what no ledger could know of (`conformance.engine.interrupted`). pytest hands stderr back
before this runs (trylast): what a test printed while interrupted is not shown, so the note of a
cleanup stopped by a second interrupt is printed again here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from conformance.engine.errors import HarnessError
from conformance.engine.interrupted import sweep
from conformance.engine.redact import redactor
from conformance.engine.signals import CleanupAbandoned
from conformance.engine.transport import Transport

__all__ = ["InterruptedRun"]


class InterruptedRun:
    """A pytest plugin object: after Ctrl-C or SIGTERM, sweeps what run `run_id` left on the target."""

    def __init__(self, config: pytest.Config, run_id: str, used: Callable[[], Transport | None],
                 opened: Callable[[], Transport]) -> None:
        self.config = config
        self.run_id = run_id
        self.used = used  # the transport scenarios used in this process; None when none did
        self.opened = opened  # a transport of its own

    def transport(self) -> Transport | None:
        if self.used() is None and self.config.pluginmanager.hasplugin("dsession"):
            return self.opened()  # an xdist controller: its workers ran the scenarios
        return self.used()

    @pytest.hookimpl(trylast=True)
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        if isinstance(excinfo.value, CleanupAbandoned):
            # Someone interrupted twice: they want out, and are told what is left.
            print(f"\nscim-conformance: {excinfo.value}", file=sys.stderr, flush=True)
            return
        try:
            transport = self.transport()
        except HarnessError:
            return
        if transport is None:
            return
        print(f"\nscim-conformance: interrupted: removing what run {self.run_id} left on the target...",
              file=sys.stderr, flush=True)
        try:
            print(f"scim-conformance: {sweep(transport, self.run_id, redactor)}", file=sys.stderr, flush=True)
        except CleanupAbandoned:
            pass  # its note is printed: the run ends now, with its summary
        except KeyboardInterrupt:
            print("scim-conformance: the sweep finished; interrupted", file=sys.stderr, flush=True)
