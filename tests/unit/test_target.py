"""Opening a target (conformance.engine.target): what every command and the plugin rely on."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conformance.engine.errors import HarnessError
from conformance.engine.http import http_client, target_client
from conformance.engine.profiles import TargetProfile
from conformance.engine.redact import redactor
from conformance.engine.target import ask_for_token, open_target, prepare_target

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(autouse=True)
def _sigterm_restored() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_the_embedded_target_starts_with_a_generated_token_and_stops_with_the_block(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCIM_TOKEN", raising=False)
    with open_target("embedded", None) as target:
        assert target.embedded and target.server is not None
        assert target.base_url is not None and target.base_url.startswith("http://127.0.0.1:")
        assert target.token and redactor.text(f"x {target.token} x") != f"x {target.token} x"
        with httpx.Client(trust_env=False, timeout=10) as client:
            assert client.get(f"{target.base_url}/Users").status_code == 401
            answer = client.get(f"{target.base_url}/Users", headers={"Authorization": f"Bearer {target.token}"})
            assert answer.status_code == 200
        process = target.server.process
    assert process.poll() is not None and target.server is None


def test_an_embedded_target_for_a_recorder_accepts_any_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_TOKEN", "a-token-the-idp-does-not-send")
    with open_target("embedded", None, authenticate_embedded=False) as target:
        assert target.token is None
        with httpx.Client(trust_env=False, timeout=10) as client:
            assert client.get(f"{target.base_url}/Users").status_code == 200


def test_a_remote_target_is_not_started_and_sigterm_becomes_keyboard_interrupt(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_TOKEN", "remote-token-1234")
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with open_target("https://scim.example.com/scim/v2", None, insecure=True, prompt=False) as target:
        assert (target.base_url, target.server, target.token) == ("https://scim.example.com/scim/v2", None,
                                                                  "remote-token-1234")
        assert target.profile.verify_tls is False
        assert redactor.text("remote-token-1234") != "remote-token-1234"
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN)


def test_a_target_that_names_nothing_is_a_harness_error(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="neither a URL, a profile file, nor a profile name"):
        prepare_target("no-such-target", tmp_path)


def test_without_a_terminal_a_missing_token_is_a_warning_not_a_prompt(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("ACME_TOKEN", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    profile = TargetProfile(id="acme", base_url="https://scim.acme.example/v2", token_env="ACME_TOKEN")
    assert ask_for_token(profile) is None
    assert "$ACME_TOKEN is not set" in capsys.readouterr().err
    monkeypatch.setenv("ACME_TOKEN", "from-the-environment")
    assert ask_for_token(profile) == "from-the-environment"


def test_on_a_terminal_the_prompted_token_goes_into_the_profiles_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACME_TOKEN", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt: "typed-token")
    profile = TargetProfile(id="acme", base_url="https://scim.acme.example/v2", token_env="ACME_TOKEN")
    assert ask_for_token(profile) == "typed-token"
    assert os.environ["ACME_TOKEN"] == "typed-token"  # where the plugin and xdist workers read it


def test_one_client_construction_never_follows_redirects_and_keeps_the_target_settings() -> None:
    target = TargetProfile(id="t", base_url="https://scim.example.com/v2", verify_tls=False,
                           connect_timeout=3.0, read_timeout=7.0)
    with target_client(target, headers={"User-Agent": "ua/1"}) as client:
        assert client.follow_redirects is False
        assert (client.timeout.connect, client.timeout.read) == (3.0, 7.0)
        assert client.headers["User-Agent"] == "ua/1"
    with http_client("http://127.0.0.1:1/v2", proxies_from_env=False) as client:
        assert client.follow_redirects is False and client.trust_env is False
    with pytest.raises(ValueError, match="no base URL"):
        target_client(TargetProfile(id="e", base_url=None, embedded=True))
