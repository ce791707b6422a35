"""The embedded default target: a real, third-party SCIM server started on demand.

When no target is configured, the conformance run (and our own test-suite) needs *some* SCIM 2.0
server to talk to. Rather than a mock of our own, which would only agree with our own reading of
the RFCs, we start `scim2-server` (PyPI, pinned to 0.8.3 by the ``embedded`` extra) as a child
process on a free port of 127.0.0.1, wait until it answers, and stop it when we are done.

The child is tied to the parent as tightly as the platform allows, so that it never outlives us:

* `stop_embedded` sends SIGTERM, waits, then SIGKILL;
* an `atexit` handler stops every server still running when the interpreter exits;
* on Linux the child asks the kernel (``prctl(PR_SET_PDEATHSIG, SIGKILL)``) to be killed when its
  parent dies, even if the parent is SIGKILLed and no Python code runs. Note that the kernel sends
  that signal when the *thread* that started the child exits: start the server from a thread that
  lives as long as you need the server (the main thread, a pytest fixture).

The bearer token, when given, is never written in an exception message or a log line of ours.

Run ``python -m conformance.engine.embedded`` to start one in the foreground and print its URL.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from conformance.engine.http import http_client
from conformance.engine.redact import MASK
from conformance.engine.signals import sigterm_as_keyboard_interrupt

__all__ = [
    "INSTALL_HINT",
    "EmbeddedServer",
    "EmbeddedServerError",
    "EmbeddedServerUnavailable",
    "embedded_server",
    "find_server_command",
    "start_embedded",
    "stop_embedded",
]

SCIM2_SERVER_VERSION = "0.8.3"
INSTALL_HINT = (
    'pip install "scim-conformance[embedded]"'
    f" (or pip install scim2-server=={SCIM2_SERVER_VERSION})"
)
_EXECUTABLE = "scim2-server"
_BANNER = "Serving SCIM on "  # printed (flushed) by scim2-server once its socket is bound
_BASE_PATH = "/v2"
_PORT_ATTEMPTS = 3
_LOG_TAIL_CHARS = 2000


class EmbeddedServerUnavailable(RuntimeError):
    """scim2-server is not installed: neither its executable nor its module can be found."""


class EmbeddedServerError(RuntimeError):
    """scim2-server is installed but did not start (or did not answer) in time."""


@dataclass(frozen=True)
class EmbeddedServer:
    """A running scim2-server child process."""

    base_url: str  # e.g. http://127.0.0.1:PORT/v2
    token: str | None
    process: subprocess.Popen
    log_path: Path | None = None  # the child's stdout+stderr; removed by stop_embedded

    def __repr__(self) -> str:  # the token stays out of reprs, tracebacks and logs
        token = None if self.token is None else MASK
        return (
            f"EmbeddedServer(base_url={self.base_url!r}, token={token!r}, "
            f"pid={self.process.pid}, log_path={self.log_path!r})"
        )


# --------------------------------------------------------------------------- finding the server


def find_server_command() -> list[str]:
    """The argv prefix that runs scim2-server, or raise `EmbeddedServerUnavailable`.

    Looked up in this order: the ``scim2-server`` script next to ``sys.executable`` (same
    virtualenv), ``scim2-server`` on PATH, then ``python -m`` on the package. scim2-server 0.8.3
    has no ``scim2_server/__main__.py``; its CLI module ``scim2_server.testserver.cli`` does run
    under ``-m`` (it ends with ``if __name__ == "__main__": main()``), so that is the fallback.
    """
    bindir = Path(sys.executable).parent  # not resolved: a venv's python is often a symlink
    for name in (_EXECUTABLE, _EXECUTABLE + ".exe"):
        candidate = bindir / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    on_path = shutil.which(_EXECUTABLE)
    if on_path:
        return [on_path]
    for module, runnable in (
        ("scim2_server.__main__", "scim2_server"),
        ("scim2_server.testserver.cli", "scim2_server.testserver.cli"),
    ):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if found:
            return [sys.executable, "-m", runnable]
    raise EmbeddedServerUnavailable(
        "The embedded SCIM server (scim2-server) is not installed. Install it with: "
        + INSTALL_HINT
    )


# --------------------------------------------------------------------------- dying with the parent

# Run by the child before it becomes scim2-server: on Linux, ask to be SIGKILLed when the parent
# dies, then exec the real command (same pid). Done in a tiny shim rather than in `preexec_fn`,
# which is not safe when the parent has threads (the proxy and httpx pools do). Best effort: any
# failure of ctypes/prctl is ignored and the server simply starts without the guard.
_PDEATHSIG_SHIM = """\
import os, sys
try:
    import ctypes, signal
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    if os.getppid() != int(sys.argv[1]):  # the parent died before prctl: do not start
        sys.exit(0)
except Exception:
    pass
os.execv(sys.argv[2], sys.argv[2:])
"""


def _wrap_for_pdeathsig(command: list[str]) -> list[str]:
    if not sys.platform.startswith("linux"):
        return command
    executable = command[0]
    if not os.path.isabs(executable):
        executable = shutil.which(executable) or executable
    return [sys.executable, "-I", "-c", _PDEATHSIG_SHIM, str(os.getpid()), executable, *command[1:]]


# --------------------------------------------------------------------------- cleanup at exit

_running: dict[int, EmbeddedServer] = {}
_running_lock = threading.Lock()


def _stop_all_at_exit() -> None:
    with _running_lock:
        servers = list(_running.values())
    for server in servers:
        with contextlib.suppress(Exception):
            stop_embedded(server, timeout=2.0)


atexit.register(_stop_all_at_exit)


# --------------------------------------------------------------------------- start / stop


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read_log(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _redact(text: str, token: str | None) -> str:
    # Exact replacement of any length: Redactor skips secrets under 4 characters, a log tail must not.
    return text.replace(token, MASK) if token else text


def _log_tail(path: Path, token: str | None) -> str:
    tail = _read_log(path)[-_LOG_TAIL_CHARS:].strip()
    return _redact(tail, token) or "(empty)"


def _kill(process: subprocess.Popen, timeout: float) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)


def _unlink(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()


class _PortInUse(Exception):
    pass


def _start_once(
    command: list[str], port: int, token: str | None, deadline: float
) -> EmbeddedServer:
    """Start one child on `port`; raise `_PortInUse` if it could not bind, else
    `EmbeddedServerError` on any other failure. The child is killed on every failure."""
    argv = [*command, "--hostname", "127.0.0.1", "--port", str(port)]
    if token is not None:
        # SECURITY: scim2-server only takes its token as a command-line flag, so it is visible to
        # other local users in `ps` / /proc/PID/cmdline for the life of the child. Acceptable for
        # a throw-away in-memory server bound to 127.0.0.1; never reuse a production token here.
        # The `=` form keeps a token that starts with "-" from being read as an option.
        argv.append(f"--bearer-token={token}")
    argv = _wrap_for_pdeathsig(argv)

    fd, log_name = tempfile.mkstemp(prefix="scim2-server-", suffix=".log")
    log_path = Path(log_name)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        with os.fdopen(fd, "wb") as log:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                close_fds=True,
                start_new_session=True,  # keep the terminal's Ctrl-C away; we stop it ourselves
            )
    except OSError as exc:
        _unlink(log_path)
        raise EmbeddedServerError(
            f"could not run scim2-server ({command[0]}): {exc.strerror or exc}"
        ) from None

    base_url = f"http://127.0.0.1:{port}{_BASE_PATH}"
    server = EmbeddedServer(base_url=base_url, token=token, process=process, log_path=log_path)
    with _running_lock:
        _running[process.pid] = server

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    last_problem = "no answer yet"
    try:
        with http_client(base_url, headers=headers, proxies_from_env=False) as client:
            while True:
                if process.poll() is not None:
                    log = _read_log(log_path)
                    if "Address already in use" in log or "Errno 98" in log or "Errno 48" in log:
                        raise _PortInUse
                    raise EmbeddedServerError(
                        f"scim2-server exited with code {process.returncode} before answering "
                        f"on {base_url}. Its output (tail):\n{_log_tail(log_path, token)}"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise EmbeddedServerError(
                        f"scim2-server did not answer 200 on {base_url}/ServiceProviderConfig "
                        f"in time (last: {last_problem}). Its output (tail):\n"
                        f"{_log_tail(log_path, token)}"
                    )
                # Only trust the HTTP answer once *our* child says it has bound the port, so that
                # another process that grabbed the port meanwhile cannot pass for it.
                if _BANNER in _read_log(log_path):
                    try:
                        response = client.get(
                            f"{base_url}/ServiceProviderConfig", timeout=min(2.0, remaining)
                        )
                    except httpx.HTTPError as exc:
                        last_problem = type(exc).__name__
                    else:
                        if response.status_code == 200 and process.poll() is None:
                            return server
                        last_problem = f"HTTP {response.status_code}"
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    except BaseException:
        _forget(server)
        _kill(process, timeout=2.0)
        _unlink(log_path)
        raise


def _forget(server: EmbeddedServer) -> None:
    with _running_lock:
        _running.pop(server.process.pid, None)


def start_embedded(
    token: str | None = None, *, startup_timeout: float = 20.0, port: int | None = None
) -> EmbeddedServer:
    """Start scim2-server on 127.0.0.1 and return once ``GET /ServiceProviderConfig`` answers 200.

    `token`: the bearer token the server demands (None: the server accepts every request).
    `port`: a fixed port; by default a free one is picked, and picked again (up to 3 times) if
    another process takes it before the server binds it.

    Raises `EmbeddedServerUnavailable` if scim2-server is not installed, `EmbeddedServerError`
    (with the tail of the server's output, token redacted) if it does not come up in time.
    """
    if token is not None and (not isinstance(token, str) or not token.strip()):
        # scim2-server would accept "Bearer " with an empty token: refuse rather than fake auth.
        raise ValueError("token must be a non-empty string, or None for no authentication")
    command = find_server_command()
    deadline = time.monotonic() + startup_timeout
    attempts = 1 if port is not None else _PORT_ATTEMPTS
    for attempt in range(1, attempts + 1):
        chosen = port if port is not None else _free_port()
        try:
            return _start_once(command, chosen, token, deadline)
        except _PortInUse:
            if attempt == attempts:
                raise EmbeddedServerError(
                    f"scim2-server could not bind 127.0.0.1:{chosen} (address already in use"
                    + (")" if port is not None else f"; tried {attempts} free ports)")
                ) from None
    raise AssertionError("unreachable")  # pragma: no cover


def stop_embedded(server: EmbeddedServer, *, timeout: float = 5.0) -> None:
    """Stop the server: SIGTERM, wait up to `timeout`, then SIGKILL. Safe to call twice."""
    _forget(server)
    try:
        _kill(server.process, timeout=timeout)
    finally:
        _unlink(server.log_path)


@contextlib.contextmanager
def embedded_server(token: str | None = None) -> Iterator[EmbeddedServer]:
    """``with embedded_server() as srv: ...`` starts scim2-server and always stops it."""
    server = start_embedded(token)
    try:
        yield server
    finally:
        stop_embedded(server)


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m conformance.engine.embedded",
        description="Run the embedded SCIM server (scim2-server) in the foreground and print "
        "its base URL. Stop it with Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    parser.add_argument(
        "--token-env",
        metavar="NAME",
        default=None,
        help="demand the bearer token held by environment variable NAME "
        "(default: accept every request)",
    )
    parser.add_argument("--startup-timeout", type=float, default=20.0, metavar="SECONDS")
    args = parser.parse_args(argv)

    token: str | None = None
    if args.token_env:
        token = os.environ.get(args.token_env)
        if not token:
            parser.error(f"environment variable {args.token_env} is not set or empty")

    sigterm_as_keyboard_interrupt()  # a SIGTERM stops the server as Ctrl-C does
    try:
        server = start_embedded(token, startup_timeout=args.startup_timeout, port=args.port)
    except (EmbeddedServerUnavailable, EmbeddedServerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        print(server.base_url, flush=True)
        auth = f"bearer token from ${args.token_env}" if token else "no authentication"
        print(
            f"scim2-server (pid {server.process.pid}, {auth}); Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        code = server.process.wait()
        print(f"scim2-server exited with code {code}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop_embedded(server)


if __name__ == "__main__":
    sys.exit(main())
