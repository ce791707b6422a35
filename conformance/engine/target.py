"""Opening a target: from what the user typed after `--target` to a SCIM server that answers.

Every command and the pytest plugin open a target the same way, here: the text is a base URL, a
target profile name or file, or `embedded`; `--insecure` turns TLS verification off; the bearer
token comes from the variable the profile names or, on a terminal, from a prompt; every secret is
registered with the redactor before anything can print it; a CI cancellation (SIGTERM) becomes a
Ctrl-C so that what a run created is still removed; and the embedded scim2-server is started on
127.0.0.1 when asked for, and stopped when the target is closed.
"""

from __future__ import annotations

import getpass
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from conformance.engine.errors import HarnessError
from conformance.engine.paths import find_profiles_dir
from conformance.engine.profiles import TargetProfile, resolve_target, with_base_url
from conformance.engine.redact import redactor, register_credentials
from conformance.engine.signals import sigterm_as_keyboard_interrupt

if TYPE_CHECKING:
    from conformance.engine.embedded import EmbeddedServer

__all__ = ["Target", "ask_for_token", "open_target", "prepare_target", "profiles_dir_or_none", "resolve"]


@dataclass
class Target:
    """A target named on the command line; once started, `profile.base_url` is where it answers.

    `with target:` starts it and stops the embedded server at the end of the block.
    """

    profile: TargetProfile
    profiles_dir: Path | None
    token: str | None
    # False: the embedded server accepts any token (a recording proxy forwards the IdP's own).
    authenticate_embedded: bool = True
    server: EmbeddedServer | None = None  # while the embedded server runs

    @property
    def embedded(self) -> bool:
        return self.profile.embedded

    @property
    def base_url(self) -> str | None:
        return self.profile.base_url

    def start(self) -> Target:
        """Start the embedded server if this target is it (once); a remote target is left as it is."""
        if not self.profile.embedded or self.server is not None:
            return self
        from conformance.engine.embedded import start_embedded  # a remote run never needs it

        if self.authenticate_embedded:
            # The embedded server always checks a token, so auth is exercised too.
            self.token = self.token or secrets.token_urlsafe(24)
            redactor.add_secret(self.token)
        else:
            self.token = None
        server = start_embedded(self.token)
        self.server = server
        self.profile = with_base_url(self.profile, server.base_url)
        return self

    def __enter__(self) -> Target:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the embedded server, if one was started; safe to call twice."""
        if self.server is not None:
            from conformance.engine.embedded import stop_embedded

            server, self.server = self.server, None
            stop_embedded(server)


def profiles_dir_or_none() -> Path | None:
    """The profiles folder found from the working directory, as commands look for it; None if none."""
    try:
        return find_profiles_dir()
    except HarnessError:
        return None


def resolve(spec: str, profiles_dir: Path | None, *, insecure: bool = False) -> TargetProfile:
    """The target profile `spec` names (raises HarnessError); `insecure` turns TLS verification off."""
    profile = resolve_target(spec, profiles_dir)
    if insecure and not profile.embedded:  # the embedded server speaks plain HTTP on 127.0.0.1
        profile = replace(profile, verify_tls=False)
    return profile


def ask_for_token(profile: TargetProfile) -> str | None:
    """The bearer token: from the profile's variable or, when unset and on a terminal, a prompt.

    A prompted token is put into that variable, where a pytest run in this process and its
    xdist workers read it; it is never written anywhere.
    """
    token = profile.token()
    if profile.embedded or profile.auth_type == "none" or token:
        return token
    if sys.stdin.isatty():
        token = getpass.getpass(f"Bearer token for {profile.base_url} (${profile.token_env} is not set): ")
        if token:
            os.environ[profile.token_env] = token
            return token
    else:
        print(f"warning: ${profile.token_env} is not set: requests go without an Authorization header",
              file=sys.stderr)
    return None


def prepare_target(spec: str, profiles_dir: Path | None, *, insecure: bool = False, prompt: bool = False,
                   authenticate_embedded: bool = True) -> Target:
    """The target `spec` names, not started yet: its token read (or asked for, with `prompt`) and
    registered as a secret, and SIGTERM turned into KeyboardInterrupt. Raises HarnessError."""
    profile = resolve(spec, profiles_dir, insecure=insecure)
    token = ask_for_token(profile) if prompt else profile.token()
    register_credentials(token, profile.token_env, profile.base_url)  # a short or non-ASCII one is refused
    sigterm_as_keyboard_interrupt()
    return Target(profile, profiles_dir, token, authenticate_embedded=authenticate_embedded)


@contextmanager
def open_target(spec: str, profiles_dir: Path | None, *, insecure: bool = False, prompt: bool = True,
                authenticate_embedded: bool = True) -> Iterator[Target]:
    """`prepare_target`, then started; the embedded server is stopped when the block ends.

    Raises HarnessError for a `spec` that names no target, and the embedded module's errors
    when scim2-server is missing or does not start.
    """
    with prepare_target(spec, profiles_dir, insecure=insecure, prompt=prompt,
                        authenticate_embedded=authenticate_embedded) as target:
        yield target
