"""How a CI cancellation (SIGTERM) becomes a Ctrl-C, so that a run still removes what it created.

CI systems cancel a job with SIGTERM, whose default action ends the process at once: no `finally`,
no cleanup. Raised as KeyboardInterrupt instead, it takes the same path as Ctrl-C. Python lets
only the main thread install a signal handler; elsewhere this does nothing.
"""

from __future__ import annotations

import signal
import threading

__all__ = ["sigterm_as_keyboard_interrupt"]


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def sigterm_as_keyboard_interrupt() -> bool:
    """Make SIGTERM raise KeyboardInterrupt in the main thread; False when not on the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    return True
