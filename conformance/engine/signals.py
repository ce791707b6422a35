"""How Ctrl-C and SIGTERM reach a run: as KeyboardInterrupt, never in the middle of a cleanup.

CI systems cancel a job with SIGTERM, whose default action ends the process at once: no `finally`,
no cleanup. Raised as KeyboardInterrupt instead, it takes the same path as Ctrl-C.

An interrupt that lands while a run removes what it created would stop the removal half way and
leave users and groups on the target (and one that lands while a create is answered, before the
run has recorded the new id, leaves that resource unknown to the cleanup), so `deferred_interrupts`
holds the first one back until the block is done and raises it then. A second one still stops at
once: someone who presses Ctrl-C twice wants out; `CleanupAbandoned` then says what is left and how
to remove it.

Python lets only the main thread install a signal handler; elsewhere both do nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["CleanupAbandoned", "deferred_interrupts", "sigterm_as_keyboard_interrupt"]

INTERRUPTS = (signal.SIGINT, signal.SIGTERM)
HELD_NOTICE = (b"\nscim-conformance: interrupt received: the run stops once what it created is removed "
               b"(interrupt again to stop at once and leave the rest)\n")


class CleanupAbandoned(KeyboardInterrupt):
    """A second interrupt stopped a held block; str() says what may be left and how to remove it."""


class _InterruptedAgain(KeyboardInterrupt):
    pass


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def sigterm_as_keyboard_interrupt() -> bool:
    """Make SIGTERM raise KeyboardInterrupt in the main thread; False when not on the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    return True


class _Held:
    """The interrupts received inside the outermost `deferred_interrupts` block."""

    def __init__(self) -> None:
        self.depth = 0
        self.received: list[int] = []

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if len(self.received) > 1:
            raise _InterruptedAgain(f"signal {signum}")
        # os.write, not print: a handler may run while the main thread is inside sys.stderr.
        os.write(2, HELD_NOTICE)


_held = _Held()


@contextmanager
def deferred_interrupts(what_is_left: Callable[[], str]) -> Iterator[None]:
    """Hold SIGINT and SIGTERM back until the block is done, then raise KeyboardInterrupt.

    A second interrupt inside the block raises `CleanupAbandoned(what_is_left())` at once, also
    printed to stderr. Nested blocks are one block: the outermost one decides. Signals the process
    ignores stay ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _held.depth:
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    previous = {signum: signal.getsignal(signum) for signum in INTERRUPTS}
    _held.depth, _held.received = 1, []
    for signum, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(signum, _held.handle)
    try:
        yield
    except _InterruptedAgain as exc:
        note = f"stopped by a second interrupt: {what_is_left()}"
        print(f"\nscim-conformance: {note}", file=sys.stderr, flush=True)
        raise CleanupAbandoned(note) from exc
    except BaseException as exc:
        if _held.received:  # the block failed, but the interrupt it held must not be lost
            raise KeyboardInterrupt(_held_message()) from exc
        raise
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        _held.depth = 0
    if _held.received:
        raise KeyboardInterrupt(_held_message())


def _held_message() -> str:
    return f"signal {_held.received[0]} (held until the cleanup was done)"
