"""Allure results written by a process of their own, while the run waits for the server.

A run attaches the text of every exchange: some 1,500 files for the shipped suite. allure-pytest
writes each file in the test's thread (create a temporary file, write, rename), and creating a
file costs from 0.04 to 0.9 ms on the same disk from one minute to the next: that was the
largest part of the harness's own time (docs/performance.md). A writer thread did not help: it
shares the interpreter lock with the test's thread, and each of its system calls hands the lock
back and forth.

`BackgroundFileLogger` is an allure-commons plugin: it implements the reporting hooks that
allure-commons declares for the loggers that write results (`report_result`, `report_container`,
`report_globals`, `report_attached_data`, `report_attached_file`), and `install` registers it in
place of the file logger allure-pytest registers for `--alluredir`. It passes what it is given
through a pipe to a child process (`conformance.reporting.exchange_writer`), which writes the
files; an `ExchangeBody` (the exchange itself) is rendered there too, with the redactor's secrets
sent ahead of it. Any other `Deferred` body is rendered here, and only when written (nothing is
rendered when no Allure results are written). Test results and containers go to the child too,
pickled: it turns them into Allure's JSON and writes them (that was a tenth of pytest's own time
per test).

Nothing is lost: the pipe is bounded (the test's thread waits when the writer falls behind),
`drain()` waits until the child has written every file and reports the files it could not
write, and if the child is gone the files are written in this process instead.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import allure_commons
import pytest
from allure_commons.logger import AllureFileLogger

from conformance.engine.exchange import Exchange
from conformance.engine.redact import Redactor
from conformance.reporting.exchange_writer import FRAME, exchange_fields, result_json
from conformance.reporting.reproduce import format_exchange

__all__ = ["CONTAINER_FILE", "GLOBALS_FILE", "RESULT_FILE", "BackgroundFileLogger", "Deferred", "ExchangeBody",
           "install"]

# File names of Allure's result format, as allure-commons names them (model2's patterns; the globals
# file is newer than the oldest allure-commons this package accepts).
RESULT_FILE, CONTAINER_FILE, GLOBALS_FILE = "{prefix}-result.json", "{prefix}-container.json", "{prefix}-globals.json"
_PIPE_BYTES = 1 << 20  # up to a few hundred attachments in flight
# The package's folder on the child's path first: the child imports the same code as this process
# whether it is installed, installed in editable mode, or run from a source tree.
_CHILD = ("import sys; sys.path.insert(0, sys.argv[2]); from conformance.reporting.exchange_writer import main; "
          "sys.exit(main(sys.argv[1]))")


class Deferred:
    """An attachment body rendered only when it is written: `render()` returns the text."""

    __slots__ = ("render",)

    def __init__(self, render: Callable[[], str]) -> None:
        self.render = render


class ExchangeBody(Deferred):
    """The text of one exchange, rendered by the writer process (or here, if it is gone)."""

    __slots__ = ("exchange", "redactor", "token_env")

    def __init__(self, exchange: Exchange, redactor: Redactor, token_env: str) -> None:
        super().__init__(lambda: format_exchange(exchange, redactor, token_env))
        self.exchange, self.redactor, self.token_env = exchange, redactor, token_env


class BackgroundFileLogger:
    """Writes the Allure results reported through allure-commons' hooks to `report_dir`, by a child process."""

    def __init__(self, report_dir: str | Path) -> None:
        self.report_dir = Path(report_dir).absolute()  # allure-pytest has already cleaned it if asked
        self.report_dir.mkdir(parents=True, exist_ok=True)
        self.failed = 0
        self.first_error: str | None = None
        package_parent = str(Path(__file__).resolve().parents[2])
        self._child: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(self.report_dir), package_parent],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=1 << 16)
        self._secrets_sent: dict[int, int] = {}  # redactor id -> how many of its secrets went ahead
        with contextlib.suppress(ImportError, OSError, AttributeError):  # Linux only; the default is 64 kB
            import fcntl

            fcntl.fcntl(self._child.stdin.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)  # type: ignore[union-attr]

    @allure_commons.hookimpl
    def report_result(self, result: Any) -> None:
        self._write_item(result, RESULT_FILE)

    @allure_commons.hookimpl
    def report_container(self, container: Any) -> None:
        self._write_item(container, CONTAINER_FILE)

    @allure_commons.hookimpl
    def report_globals(self, globals_item: Any) -> None:
        self._write_item(globals_item, GLOBALS_FILE)

    @allure_commons.hookimpl
    def report_attached_file(self, source: Any, file_name: str) -> None:
        # Copied here, at once: the source may be a temporary file that is gone once the test returns.
        try:
            shutil.copy2(source, self.report_dir / file_name)
        except OSError as exc:
            self._count(file_name, exc)

    @allure_commons.hookimpl
    def report_attached_data(self, body: Any, file_name: str) -> None:
        if isinstance(body, ExchangeBody) and self._child is not None:
            # The secrets the redactor learnt since the last exchange go first, then the exchange.
            sent = self._secrets_sent.get(id(body.redactor), 0)
            fresh = body.redactor.secrets_since(sent)
            self._secrets_sent[id(body.redactor)] = sent + len(fresh)
            frames = [_frame(b"S", "", secret.encode("utf-8")) for secret in fresh]
            fields = pickle.dumps(exchange_fields(body.exchange, body.token_env), pickle.HIGHEST_PROTOCOL)
            if self._send(b"".join([*frames, _frame(b"X", file_name, fields)])):
                return
        try:
            text = body.render() if isinstance(body, Deferred) else body
            data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        except Exception as exc:  # a rendering bug must not lose the test's result: count it
            self._count(file_name, exc)
            return
        if self._send(_frame(b"F", file_name, data)):
            return
        self._write_here(file_name, data)

    def _write_item(self, item: Any, file_name: str) -> None:
        """A test result, container or globals: written by the child, or here if there is none."""
        name = file_name.format(prefix=uuid.uuid4())
        if self._child is not None and self._send(_frame(b"R", name, pickle.dumps(item, pickle.HIGHEST_PROTOCOL))):
            return
        try:
            data = result_json(item)
        except Exception as exc:  # an unserialisable result is counted, like a file that could not be written
            self._count(name, exc)
            return
        self._write_here(name, data)

    def _write_here(self, file_name: str, data: bytes) -> None:
        try:
            (self.report_dir / file_name).write_bytes(data)
        except OSError as exc:
            self._count(file_name, exc)

    def _send(self, frames: bytes) -> bool:
        """True when the writer process took `frames`; False when there is none (any more)."""
        if self._child is None:
            return False
        try:
            self._child.stdin.write(frames)  # type: ignore[union-attr]
            return True
        except OSError:  # the writer is gone: say so, and write here from now on
            child, self._child = self._child, None
            child.kill()
            child.wait(timeout=10)
            self._count("(writer process)", RuntimeError(
                f"the writer process ended with {child.returncode}; attachments sent to it may be missing"))
            return False

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
                last = (output.decode("utf-8", "replace").strip().splitlines() or [""])[-1]
                failed, _, first = last.partition("\t")
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


def _frame(kind: bytes, name: str, body: bytes) -> bytes:
    encoded = name.encode("utf-8")
    return FRAME.pack(kind, len(encoded), len(body)) + encoded + body


def install(config: pytest.Config) -> BackgroundFileLogger | None:
    """Put a `BackgroundFileLogger` in place of allure-pytest's file logger for this session.

    Call after allure-pytest's own `pytest_configure`, which registers an `AllureFileLogger` for
    `--alluredir`. Returns None (and changes nothing) when Allure results are not written in this
    process, or allure-pytest's logger is not found.
    """
    report_dir = config.getoption("allure_report_dir", None)
    manager = allure_commons.plugin_manager
    original = next((p for p in manager.get_plugins() if type(p) is AllureFileLogger), None)
    if not report_dir or original is None:
        return None
    name = manager.get_name(original)
    background = BackgroundFileLogger(os.path.abspath(report_dir))  # as allure-pytest resolves it
    manager.unregister(original)
    manager.register(background, name=name)

    def restore() -> None:
        # Runs before allure-pytest's own clean-up (clean-ups run last-in first-out), which
        # unregisters the logger it registered: give it back.
        background.drain()  # also when the session did not get to its end
        manager.unregister(background)
        manager.register(original, name=name)

    config.add_cleanup(restore)
    return background
