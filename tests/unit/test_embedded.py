"""The embedded default target: scim2-server started, answering, guarded by its token, stopped."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conformance.engine import embedded
from conformance.engine.embedded import (
    EmbeddedServer,
    EmbeddedServerError,
    EmbeddedServerUnavailable,
    embedded_server,
    find_server_command,
    start_embedded,
    stop_embedded,
)

pytestmark = pytest.mark.timeout(90)

REPO = Path(__file__).resolve().parents[2]
TOKEN = "tok-" + secrets.token_urlsafe(16)


def _client(token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(trust_env=False, timeout=10.0, headers=headers)


def _dead(pid: int) -> bool:
    """True once `pid` has exited (a zombie nobody reaped counts as exited)."""
    stat = Path(f"/proc/{pid}/stat")
    if sys.platform.startswith("linux"):
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
        except (OSError, IndexError):
            return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _wait_dead(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _dead(pid):
            return True
        time.sleep(0.05)
    return _dead(pid)


def _port_of(server: EmbeddedServer) -> int:
    return int(httpx.URL(server.base_url).port or 0)


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    srv = start_embedded(TOKEN)
    try:
        yield srv
    finally:
        stop_embedded(srv)


# --------------------------------------------------------------------------- a running server


def test_base_url_is_loopback_v2(server: EmbeddedServer) -> None:
    url = httpx.URL(server.base_url)
    assert url.scheme == "http"
    assert url.host == "127.0.0.1"
    assert url.path == "/v2"
    assert server.process.poll() is None


def test_service_provider_config_answers_anonymously(server: EmbeddedServer) -> None:
    with _client() as client:
        response = client.get(f"{server.base_url}/ServiceProviderConfig")
    assert response.status_code == 200
    assert "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig" in response.json()[
        "schemas"
    ]


def test_token_is_enforced(server: EmbeddedServer) -> None:
    with _client() as anonymous:
        assert anonymous.get(f"{server.base_url}/Users").status_code == 401
    with _client("not-" + TOKEN) as wrong:
        assert wrong.get(f"{server.base_url}/Users").status_code == 401
    with _client(TOKEN) as good:
        response = good.get(f"{server.base_url}/Users")
    assert response.status_code == 200
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]


def test_token_stays_out_of_repr(server: EmbeddedServer) -> None:
    assert TOKEN not in repr(server)
    assert TOKEN not in str(server)


# --------------------------------------------------------------------------- start and stop


def test_start_without_token_accepts_everything_and_stop_ends_the_process() -> None:
    srv = start_embedded()
    pid, port, log_path = srv.process.pid, _port_of(srv), srv.log_path
    try:
        with _client() as client:
            assert client.get(f"{srv.base_url}/Users").status_code == 200
        assert log_path is not None and log_path.exists()
    finally:
        started = time.monotonic()
        stop_embedded(srv)
        assert time.monotonic() - started < 10
    assert srv.process.returncode is not None
    assert _wait_dead(pid)
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    assert log_path is not None and not log_path.exists()
    stop_embedded(srv)  # a second stop is harmless


def test_context_manager_stops_the_server() -> None:
    with embedded_server(TOKEN) as srv:
        with _client(TOKEN) as client:
            assert client.get(f"{srv.base_url}/Users").status_code == 200
        process = srv.process
    assert process.returncode is not None


def test_port_taken_before_the_server_binds_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        real_free_port = embedded._free_port
        monkeypatch.setattr(embedded, "_free_port", lambda: next(ports, None) or real_free_port())
        with embedded_server() as srv:
            assert _port_of(srv) != taken
            with _client() as client:
                assert client.get(f"{srv.base_url}/ServiceProviderConfig").status_code == 200


def test_fixed_port_in_use_fails_clearly() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        taken = squatter.getsockname()[1]
        with pytest.raises(EmbeddedServerError, match="already in use") as info:
            start_embedded(TOKEN, port=taken, startup_timeout=15)
    assert TOKEN not in str(info.value)


def test_empty_token_is_refused() -> None:
    with pytest.raises(ValueError):
        start_embedded("")


# --------------------------------------------------------------------------- not installed


def test_missing_executable_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(embedded.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(embedded.shutil, "which", lambda *args, **kwargs: None)
    monkeypatch.setattr(embedded.importlib.util, "find_spec", lambda *args, **kwargs: None)
    with pytest.raises(EmbeddedServerUnavailable) as info:
        start_embedded(TOKEN)
    message = str(info.value)
    assert 'pip install "scim-conformance[embedded]"' in message
    assert "pip install scim2-server==0.8.3" in message
    assert TOKEN not in message
    assert isinstance(info.value, RuntimeError)


def test_module_fallback_when_no_script(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(embedded.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(embedded.shutil, "which", lambda *args, **kwargs: None)
    command = find_server_command()
    assert command[1:] == ["-m", "scim2_server.testserver.cli"]


def test_script_next_to_the_interpreter_comes_first() -> None:
    command = find_server_command()
    assert command == [str(Path(sys.executable).parent / "scim2-server")]


# --------------------------------------------------------------------------- failing to start

# Stands in for scim2-server: prints its whole command line (token included) to its log.
_ECHO_ARGV_AND_EXIT = [sys.executable, "-c", "import sys; print(sys.argv, flush=True); sys.exit(3)"]
_ECHO_ARGV_AND_HANG = [
    sys.executable,
    "-c",
    "import sys, time; print(sys.argv, flush=True); time.sleep(60)",
]


def test_token_not_in_message_when_the_server_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "find_server_command", lambda: list(_ECHO_ARGV_AND_EXIT))
    with pytest.raises(EmbeddedServerError) as info:
        start_embedded(TOKEN, startup_timeout=15)
    message = str(info.value)
    assert "exited with code 3" in message
    assert "--bearer-token=[REDACTED]" in message  # the log tail is there, redacted
    assert TOKEN not in message
    assert TOKEN not in repr(info.value)


def test_token_not_in_message_on_timeout_and_child_killed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(embedded, "find_server_command", lambda: list(_ECHO_ARGV_AND_HANG))
    spawned: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def recording_popen(*args: object, **kwargs: object) -> subprocess.Popen:
        process = real_popen(*args, **kwargs)  # type: ignore[call-overload]
        spawned.append(process)
        return process

    monkeypatch.setattr(embedded.subprocess, "Popen", recording_popen)
    started = time.monotonic()
    with pytest.raises(EmbeddedServerError) as info:
        start_embedded(TOKEN, startup_timeout=1.5)
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert "did not answer" in message
    assert TOKEN not in message
    assert spawned and all(p.poll() is not None for p in spawned)
    assert not {p.pid for p in spawned} & set(embedded._running)


# --------------------------------------------------------------------------- outliving the parent


def _run_parent(script: str) -> tuple[int, subprocess.CompletedProcess[str]]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=REPO,
    )
    pid, _, log_path = done.stdout.strip().partition(" ")
    assert pid.isdigit(), done.stderr
    if log_path:  # a SIGKILLed parent cannot remove the child's log file: do it here
        Path(log_path).unlink(missing_ok=True)
    return int(pid), done


def test_atexit_stops_a_server_the_parent_forgot() -> None:
    pid, done = _run_parent(
        """
        from conformance.engine.embedded import start_embedded
        print(start_embedded().process.pid, flush=True)
        """
    )
    assert done.returncode == 0
    assert _wait_dead(pid), "scim2-server outlived its parent"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_child_dies_when_the_parent_is_sigkilled() -> None:
    pid, done = _run_parent(
        """
        import os, signal
        from conformance.engine.embedded import start_embedded
        srv = start_embedded()
        print(srv.process.pid, srv.log_path, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    assert done.returncode == -signal.SIGKILL
    assert _wait_dead(pid), "scim2-server outlived its SIGKILLed parent"


# --------------------------------------------------------------------------- python -m


def test_cli_prints_the_url_and_reads_the_token_from_env() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), EMBEDDED_TEST_TOKEN=TOKEN)
    process = subprocess.Popen(
        [sys.executable, "-m", "conformance.engine.embedded", "--token-env", "EMBEDDED_TEST_TOKEN"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v2")
        with _client() as anonymous:
            assert anonymous.get(f"{url}/Users").status_code == 401
        with _client(TOKEN) as client:
            assert client.get(f"{url}/Users").status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, err = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate(timeout=5)
    assert process.returncode == 0, err
    assert TOKEN not in err
    assert "EMBEDDED_TEST_TOKEN" in err
    with pytest.raises(OSError), socket.create_connection(
        ("127.0.0.1", int(httpx.URL(url).port or 0)), timeout=1
    ):
        pass
