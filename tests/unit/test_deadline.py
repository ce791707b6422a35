"""The exchange deadline: what each network operation gets, and where the timeouts come from."""

from __future__ import annotations

import time
from pathlib import Path

import httpcore
import pytest

from conformance.engine.deadline import Deadline, DeadlineBackend, bound_pools
from conformance.engine.errors import ScenarioFileError
from conformance.engine.http import http_client
from conformance.engine.profiles import load_target_profile


class RecordingStream(httpcore.NetworkStream):
    """A stream that records the timeout each operation was given, and times out on `expire`."""

    def __init__(self, expire: bool = False) -> None:
        self.timeouts: list[float | None] = []
        self.expire = expire

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.timeouts.append(timeout)
        if self.expire:
            raise httpcore.ReadTimeout("timed out")
        return b"x"

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.timeouts.append(timeout)


class RecordingBackend(httpcore.NetworkBackend):
    def __init__(self, stream: RecordingStream) -> None:
        self.stream = stream

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: object = None) -> httpcore.NetworkStream:
        self.stream.timeouts.append(timeout)
        return self.stream


def test_outside_a_deadline_each_operation_keeps_its_own_timeout():
    inner = RecordingStream()
    stream = DeadlineBackend(RecordingBackend(inner)).connect_tcp("h", 1, timeout=10)
    stream.read(10, timeout=30)
    stream.write(b"x", timeout=None)
    assert inner.timeouts == [10, 30, None]


def test_inside_a_deadline_each_operation_gets_at_most_the_time_left():
    inner = RecordingStream()
    with Deadline(time.monotonic() + 2) as deadline:
        stream = DeadlineBackend(RecordingBackend(inner)).connect_tcp("h", 1, timeout=10)
        stream.read(10, timeout=0.5)  # its own timeout is nearer: kept
        stream.write(b"x", timeout=None)
    connect, read, write = inner.timeouts
    assert connect is not None and 1.5 < connect <= 2
    assert read == 0.5
    assert write is not None and 1.5 < write <= 2
    assert not deadline.cut


def test_once_the_deadline_has_passed_an_operation_times_out_without_running():
    inner = RecordingStream()
    stream = DeadlineBackend(RecordingBackend(inner)).connect_tcp("h", 1)
    with Deadline(time.monotonic() - 1) as deadline, pytest.raises(httpcore.ReadTimeout):
        stream.read(10, timeout=30)
    assert deadline.cut
    assert inner.timeouts == [None]  # the connect only: the read never ran


def test_a_timeout_is_the_deadline_s_only_when_the_deadline_set_it():
    inner = RecordingStream(expire=True)
    stream = DeadlineBackend(RecordingBackend(inner)).connect_tcp("h", 1)
    with Deadline(time.monotonic() + 60) as own, pytest.raises(httpcore.ReadTimeout):
        stream.read(10, timeout=1)
    with Deadline(time.monotonic() + 1) as cut, pytest.raises(httpcore.ReadTimeout):
        stream.read(10, timeout=30)
    assert not own.cut
    assert cut.cut


def test_every_pool_of_a_client_carries_the_deadline_proxies_included(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with http_client("https://scim.example.com/scim/v2") as client:
        transports = [client._transport, *(t for t in client._mounts.values() if t is not None)]
        assert len(transports) >= 2  # its own and the proxy's
        # Every pool was bound when the client was built (a second call finds them bound already).
        assert bound_pools(transports) == len(transports)
        assert all(isinstance(t._pool._network_backend, DeadlineBackend) for t in transports)  # type: ignore[attr-defined]


def _profile(tmp_path: Path, timeouts: str) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(f"id: t\nbase_url: https://scim.example.com/scim/v2\n{timeouts}")
    return path


def test_the_timeouts_of_a_target_profile(tmp_path: Path):
    default = load_target_profile(_profile(tmp_path, ""))
    assert (default.exchange_deadline, default.scenario_timeout) == (70, 300)
    assert default.cleanup_budget(3) == 2 * 70 + 3 * 2
    derived = load_target_profile(_profile(tmp_path, "timeouts: {connect: 2, read: 5}\n"))
    assert derived.exchange_deadline == 12
    set_ = load_target_profile(_profile(tmp_path, "timeouts: {connect: 2, read: 5, exchange: 8, scenario: 45}\n"))
    assert (set_.exchange_deadline, set_.scenario_timeout) == (8, 45)


@pytest.mark.parametrize("timeouts", ["{exchange: 0}", "{scenario: -1}", "{scenario: 5m}", "{exchange: x}"])
def test_a_timeout_that_is_not_a_positive_number_is_refused(tmp_path: Path, timeouts: str):
    with pytest.raises(ScenarioFileError, match="timeouts/"):
        load_target_profile(_profile(tmp_path, f"timeouts: {timeouts}\n"))
