"""Allure attachment files written on a thread of their own, while the run waits for the server.

A run attaches the text of every exchange: some 1,500 files for the shipped suite. Rendering
them (redaction, pretty-printing) and writing them (create, write, rename) in the test's
thread, as allure-pytest does, was the largest part of the harness's own time
(docs/performance.md). `BackgroundFileLogger` takes the place of allure-pytest's
`AllureFileLogger` for the session and writes attachment files on one worker thread; a body
may be a `Deferred`, rendered on that thread too. Test results and containers are still
written at once, by the inherited methods.

Nothing is lost: the queue is bounded (the test thread waits when the disk falls behind),
`drain()` waits for every queued file before the session's reports are read, and a file that
could not be written is counted and its error returned.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import allure_commons
import pytest
from allure_commons.logger import AllureFileLogger

__all__ = ["BackgroundFileLogger", "Deferred", "install"]

_QUEUE_SIZE = 1000  # attachments waiting to be written; a few MB at most
_STOP = object()


class Deferred:
    """An attachment body rendered by the writer thread: `render()` returns the text."""

    __slots__ = ("render",)

    def __init__(self, render: Callable[[], str]) -> None:
        self.render = render


class BackgroundFileLogger(AllureFileLogger):
    """`AllureFileLogger` whose attachment files are rendered and written on a worker thread."""

    def __init__(self, report_dir: str | Path) -> None:
        super().__init__(report_dir, clean=False)  # allure-pytest has already cleaned it if asked
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=_QUEUE_SIZE)
        self._lock = threading.Lock()
        self.failed = 0
        self.first_error: str | None = None
        self._thread = threading.Thread(target=self._work, name="allure-attachments", daemon=True)
        self._thread.start()

    @allure_commons.hookimpl
    def report_attached_data(self, body: Any, file_name: str) -> None:
        self._queue.put((body, file_name))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                body, file_name = item
                try:
                    text = body.render() if isinstance(body, Deferred) else body
                    self._write(text, file_name)
                except Exception as exc:  # counted, and reported by drain()
                    with self._lock:
                        self.failed += 1
                        self.first_error = self.first_error or f"{file_name}: {type(exc).__name__}: {exc}"
            finally:
                self._queue.task_done()

    def _write(self, body: str | bytes, file_name: str) -> None:
        # Straight to its final name, without allure's temporary file and rename (a third of the
        # cost of each file): nothing reads allure-results before the session ends, and the
        # session's end waits in drain() until every file is complete.
        data = body.encode("utf-8") if isinstance(body, str) else body
        (self._report_dir / file_name).write_bytes(data)

    def drain(self) -> str | None:
        """Wait until every queued attachment is written; what went wrong, or None."""
        if self._thread.is_alive():
            self._queue.join()
        with self._lock:
            if not self.failed:
                return None
            return f"{self.failed} Allure attachment file(s) could not be written; the first: {self.first_error}"

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=60)


def install(config: pytest.Config) -> BackgroundFileLogger | None:
    """Put a `BackgroundFileLogger` in place of allure-pytest's file logger for this session.

    Call after allure-pytest's own `pytest_configure`. Returns None (and changes nothing) when
    Allure results are not written in this process, or allure-pytest's logger is not found.
    """
    manager = allure_commons.plugin_manager
    original = next((p for p in manager.get_plugins() if type(p) is AllureFileLogger), None)
    if original is None:
        return None
    name = manager.get_name(original)
    background = BackgroundFileLogger(original._report_dir)
    manager.unregister(original)
    manager.register(background, name=name)

    def restore() -> None:
        # Runs before allure-pytest's own clean-up (clean-ups run last-in first-out), which
        # unregisters the logger it registered: give it back.
        background.drain()
        background.stop()
        manager.unregister(background)
        manager.register(original, name=name)

    config.add_cleanup(restore)
    return background
