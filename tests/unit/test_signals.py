"""Interrupts held back during a cleanup: the first waits for the block's end, a second stops it at once.

Each test sends itself a real signal (os.kill on this process) inside the block; Python runs the
handler in the main thread, where pytest runs tests.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from conformance.engine.signals import CleanupAbandoned, deferred_interrupts


def _left() -> str:
    return "remove it with: scim-conformance cleanup --target t --run-id r1"


@pytest.fixture(autouse=True)
def interrupts_restored():
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a stray SIGTERM must not end pytest
    yield
    for signum, handler in before.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupt_inside_the_block_waits_until_the_block_is_done(signum: int):
    done = []
    with pytest.raises(KeyboardInterrupt, match="held until the cleanup was done"):
        with deferred_interrupts(_left):
            os.kill(os.getpid(), signum)
            done.append("first removal")  # still runs: the interrupt is held
            done.append("second removal")
    assert done == ["first removal", "second removal"]


def test_a_second_interrupt_stops_the_block_at_once_and_says_what_is_left(capsys: pytest.CaptureFixture[str]):
    done = []
    with pytest.raises(CleanupAbandoned) as raised:
        with deferred_interrupts(_left):
            os.kill(os.getpid(), signal.SIGINT)
            done.append("first removal")
            os.kill(os.getpid(), signal.SIGTERM)
            done.append("second removal")
    assert done == ["first removal"]
    assert "scim-conformance cleanup --target t --run-id r1" in str(raised.value)
    assert "scim-conformance cleanup --target t --run-id r1" in capsys.readouterr().err


def test_a_held_interrupt_is_not_lost_when_the_block_fails():
    with pytest.raises(KeyboardInterrupt) as raised:
        with deferred_interrupts(_left):
            os.kill(os.getpid(), signal.SIGINT)
            raise AssertionError("a removal failed")
    assert isinstance(raised.value.__cause__, AssertionError)


def test_without_an_interrupt_the_block_ends_normally_and_the_handlers_come_back():
    before = signal.getsignal(signal.SIGINT)
    with deferred_interrupts(_left):
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)  # Python's own handler again


def test_nested_blocks_are_one_block():
    with pytest.raises(KeyboardInterrupt, match="held"):
        with deferred_interrupts(_left):
            with deferred_interrupts(_left):
                os.kill(os.getpid(), signal.SIGINT)
            # the inner block's end does not raise it: the outer block is not done yet
            inner_done = True
    assert inner_done


def test_an_ignored_signal_stays_ignored():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with deferred_interrupts(_left):
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN


def test_outside_the_main_thread_the_block_changes_nothing():
    seen = []

    def block() -> None:
        with deferred_interrupts(_left):
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=block)
    thread.start()
    thread.join(5)
    assert seen == [signal.getsignal(signal.SIGINT)]
