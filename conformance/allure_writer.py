"""Allure attachment files written by a process of their own, while the run waits for the server.

A run attaches the text of every exchange: some 1,500 files for the shipped suite. allure-pytest
writes each file in the test's thread (create a temporary file, write, rename), and creating a
file costs from 0.04 to 0.9 ms on the same disk from one minute to the next: that was the
largest part of the harness's own time (docs/performance.md). A writer thread did not help: it
shares the interpreter lock with the test's thread, and each of its system calls hands the lock
back and forth. `BackgroundFileLogger` takes the place of allure-pytest's `AllureFileLogger` for
the session: the test's thread renders an attachment (a `Deferred` body is rendered only here,
so nothing is rendered when no Allure results are written) and passes it through a pipe to a
small child process that only writes files. Test results and containers are still written at
once, by the inherited methods.

Nothing is lost: the pipe is bounded (the test's thread waits when the writer falls behind),
`drain()` waits until the child has written every file and reports the files it could not
write, and if the child is gone the files are written in this process instead.
"""

from __future__ import annotations

import contextlib
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import allure_commons
import pytest
from allure_commons.logger import AllureFileLogger

__all__ = ["BackgroundFileLogger", "Deferred", "install"]

_FRAME = struct.Struct("<II")  # length of the file name, length of the body
# The writer: reads frames from stdin until it ends, writes each body straight to its final name
# (nothing reads allure-results before the session ends, and drain() waits for the writer), then
# prints how many files failed and the first error. Builtin modules only: started with -I -S.
_WRITER = r"""
import os, struct, sys
folder, read, frame = sys.argv[1], sys.stdin.buffer.read, struct.Struct("<II")
failed, first = 0, ""
while True:
    head = read(frame.size)
    if len(head) < frame.size:
        break
    name_size, body_size = frame.unpack(head)
    name, body = read(name_size).decode("utf-8"), read(body_size)
    try:
        with open(os.path.join(folder, name), "wb") as out:
            out.write(body)
    except OSError as exc:
        failed += 1
        first = first or f"{name}: {exc}"
print(f"{failed}\t{first}")
"""
_PIPE_BYTES = 1 << 20  # up to a few hundred attachments in flight


class Deferred:
    """An attachment body rendered only when it is written: `render()` returns the text."""

    __slots__ = ("render",)

    def __init__(self, render: Callable[[], str]) -> None:
        self.render = render


class BackgroundFileLogger(AllureFileLogger):
    """`AllureFileLogger` whose attachment files are written by a child process."""

    def __init__(self, report_dir: str | Path) -> None:
        super().__init__(report_dir, clean=False)  # allure-pytest has already cleaned it if asked
        self.failed = 0
        self.first_error: str | None = None
        self._child: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _WRITER, str(self._report_dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=1 << 16)
        with contextlib.suppress(ImportError, OSError, AttributeError):  # Linux only; the default is 64 kB
            import fcntl

            fcntl.fcntl(self._child.stdin.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)  # type: ignore[union-attr]

    @allure_commons.hookimpl
    def report_attached_data(self, body: Any, file_name: str) -> None:
        try:
            text = body.render() if isinstance(body, Deferred) else body
            data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        except Exception as exc:  # a rendering bug must not lose the test's result: count it
            self._count(file_name, exc)
            return
        if self._child is not None:
            name = file_name.encode("utf-8")
            try:
                self._child.stdin.write(_FRAME.pack(len(name), len(data)) + name + data)  # type: ignore[union-attr]
                return
            except OSError:  # the writer is gone: say so, and write here from now on
                child, self._child = self._child, None
                child.kill()
                child.wait(timeout=10)
                self._count("(writer process)", RuntimeError(
                    f"the writer process ended with {child.returncode}; attachments sent to it may be missing"))
        try:
            (self._report_dir / file_name).write_bytes(data)
        except OSError as exc:
            self._count(file_name, exc)

    def _count(self, file_name: str, exc: BaseException) -> None:
        self.failed += 1
        self.first_error = self.first_error or f"{file_name}: {type(exc).__name__}: {exc}"

    def drain(self) -> str | None:
        """Wait until every attachment is written; what went wrong, or None. Later attachments
        are written in this process."""
        child, self._child = self._child, None
        if child is not None:
            try:
                output, _ = child.communicate(timeout=120)
                failed, _, first = output.decode("utf-8", "replace").strip().partition("\t")
                if child.returncode != 0 or not failed.isdigit():
                    raise RuntimeError(f"the writer process ended with {child.returncode}: {output[-500:]!r}")
                self.failed += int(failed)
                self.first_error = self.first_error or first or None
            except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
                child.kill()
                self._count("(writer process)", exc)
        if not self.failed:
            return None
        return f"{self.failed} Allure attachment file(s) could not be written; the first: {self.first_error}"

    def stop(self) -> None:
        self.drain()


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
