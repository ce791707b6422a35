"""Generated users and groups that are unique per run and findable by the run id.

Every generated userName starts with `scimc-<run id>-` and every displayName carries the run id,
so leftovers of an interrupted run can be found with `filter=userName sw "scimc-<run id>"`.
"""

from __future__ import annotations

import re
import secrets
import string
import unicodedata
import uuid as uuid_module
from collections.abc import Callable
from itertools import count
from typing import Any

from faker import Faker

__all__ = ["RunData", "new_run_id"]

USERNAME_PREFIX = "scimc"
_ALNUM = string.ascii_letters + string.digits


def new_run_id() -> str:
    """A short id for one run: 6 lowercase letters and digits."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(6))


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", folded.lower()) or "x"


_PROVIDERS = ["faker.providers.person", "faker.providers.company", "faker.providers.job"]


class RunData:
    """Faker-backed generator for one run (one worker of one run, when runs are parallel)."""

    def __init__(
        self,
        run_id: str,
        *,
        email_domain: str = "example.com",
        worker: str = "",
        on_secret: Callable[[str], None] | None = None,
    ) -> None:
        self.run_id = run_id
        # Generated passwords are told to the redactor: they must not show in any report.
        self._on_secret = on_secret
        self.email_domain = email_domain
        # The worker id keeps parallel workers of one run apart, after the run id so that
        # `userName sw "scimc-<run id>-"` still finds everything the run created.
        self._tag = f"{run_id}-w{worker}" if worker else run_id
        # Unweighted name lists: three times faster, and names need not follow census frequencies.
        # Only the providers used below: all of Faker's take 18 ms to load, these three 0.1 ms.
        self._faker = Faker("en_US", use_weighting=False, providers=_PROVIDERS)
        self._counter = count(1)

    def uuid(self) -> str:
        return str(uuid_module.uuid4())

    def user(self, style: str = "plain") -> dict[str, Any]:
        """A person: names, a unique userName (an email address), ids and a password.

        style "tricky": the userName also holds what breaks naive filter parsers and URL
        encoders: an apostrophe, a plus sign, a double quote and non-ASCII letters.
        """
        if style not in ("plain", "tricky"):
            raise ValueError(f"fake.user(): style must be 'plain' or 'tricky', not {style!r}")
        n = next(self._counter)
        given, family = self._faker.first_name(), self._faker.last_name()
        local = f"{USERNAME_PREFIX}-{self._tag}-{n}.{_ascii_slug(given)}.{_ascii_slug(family)}"
        if style == "tricky":
            given, family = "Zoë", "O'Brien-Ærø"
            local = f'{USERNAME_PREFIX}-{self._tag}-{n}.o\'brien+"zoë".ærø'
        user_name = f"{local}@{self.email_domain}"
        password = secrets.token_urlsafe(12) + "aA1!"
        if self._on_secret is not None:
            self._on_secret(password)
        return {
            "userName": user_name,
            "givenName": given,
            "familyName": family,
            "formatted": f"{given} {family}",
            "displayName": f"{given} {family} ({self._tag}-{n})",
            "email": user_name,
            "externalId": str(uuid_module.uuid4()),
            # Okta sends its own user id (00u + 17 chars) as externalId.
            "oktaId": "00u" + "".join(secrets.choice(_ALNUM) for _ in range(17)),
            "password": password,
            "locale": "en-US",
            "department": self._faker.bs().split()[-1].title(),
            "employeeNumber": str(self._faker.random_number(digits=6, fix_len=True)),
            "title": self._faker.job()[:60],  # OneLogin's create template sends it
        }

    def group(self) -> dict[str, Any]:
        """A group with a unique displayName carrying the run id."""
        n = next(self._counter)
        return {
            "displayName": f"{USERNAME_PREFIX}-{self._tag}-{n} {self._faker.job()[:40]}",
            "externalId": str(uuid_module.uuid4()),
        }
