"""The one place that removes secrets from everything that leaves the process.

Three layers, applied in this order: sensitive headers by name, sensitive body keys by name
(SCIM puts passwords in bodies), then every known secret value wherever it still appears in
text (a token echoed in an error body, a URL, a traceback). Reports, logs, failure messages,
Allure attachments and curl lines all pass through `Redactor`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from typing import Any

import ahocorasick

from conformance.engine import jsondepth

__all__ = ["MASK", "Redactor", "redactor"]

MASK = "[REDACTED]"
SENSITIVE_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key",
    "x-auth-token", "x-access-token",
})
_SENSITIVE_KEY = re.compile(r"password|secret|token|api[_-]?key|credential", re.IGNORECASE)
# Anything that looks like a credential after an auth scheme, even if we never saw its value.
# A credential is a token68 (RFC 9110 §11.2); `realm="SCIM"` (an auth-param) is not one. Prose
# must survive ("a wrong token\nStep 1", "Bearer tokens are"): the scheme and the credential are
# on one line, and the credential either holds a character words do not (a digit, . _ ~ + / - =)
# or is at least 16 characters long.
# "Token" counts only capitalised ("a token /Users answers 401" is prose), and a credential starts
# with a letter or digit (not a path).
_AUTH_VALUE = re.compile(
    r"\b((?i:Bearer|Basic|SSWS)|Token)[ \t]+"
    r"(?>(?=[A-Za-z0-9][A-Za-z0-9._~+/-]*[0-9._~+/=-])[A-Za-z0-9._~+/-]{4,}=*|[A-Za-z]{16,})(?![\"=\w])",
)


_PENDING_LIMIT = 32


class Redactor:
    """Knows the secret values of this process and removes them from anything."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._ordered: list[str] = []  # in the order they came, for secrets_since()
        # Every generated password is a secret: a full run knows hundreds, a load run thousands.
        # One Aho-Corasick pass finds all of them in a text, where a loop of `in` checks grows
        # with their number (it was most of the cost of rendering an exchange).
        self._automaton = ahocorasick.Automaton()
        # Secrets not yet in the automaton, looked for one by one: a run learns a password per
        # user it creates, and rebuilding the automaton for each one cost more than the search.
        self._pending: list[str] = []
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, value: str | None) -> None:
        # Very short values would mask ordinary text everywhere; such a token is its own problem.
        if value and len(value) >= 4:
            with self._lock:
                if value not in self._secrets:
                    self._secrets.add(value)
                    self._ordered.append(value)
                    self._pending.append(value)
                    if len(self._pending) >= _PENDING_LIMIT:
                        for pending in self._pending:
                            self._automaton.add_word(pending, len(pending))
                        self._automaton.make_automaton()  # linear in the secrets' total length, in C
                        self._pending.clear()

    def secrets_since(self, count: int) -> list[str]:
        """The secrets learnt after the first `count` (to pass them on to a writer process)."""
        with self._lock:
            return self._ordered[count:]

    def text(self, text: str) -> str:
        """`text` with every known secret value and every `Bearer <credential>` masked."""
        if self._secrets:
            text = self._mask_secrets(text)
        return _AUTH_VALUE.sub(lambda m: f"{m.group(1)} {MASK}", text)

    def _mask_secrets(self, text: str) -> str:
        with self._lock:  # a concurrent step's threads may add secrets while another one renders
            found = ([(end + 1 - length, end + 1) for end, length in self._automaton.iter(text)]
                     if self._automaton.kind == ahocorasick.AHOCORASICK else [])
            for secret in self._pending:
                at = text.find(secret)
                while at >= 0:
                    found.append((at, at + len(secret)))
                    at = text.find(secret, at + 1)
        if not found:
            return text
        # Overlapping or adjacent occurrences become one mask: nothing of either shows.
        found.sort()
        pieces: list[str] = []
        kept_until = 0
        start, stop = found[0]
        for next_start, next_stop in found[1:]:
            if next_start <= stop:
                stop = max(stop, next_stop)
                continue
            pieces += [text[kept_until:start], MASK]
            kept_until, start, stop = stop, next_start, next_stop
        pieces += [text[kept_until:start], MASK, text[stop:]]
        return "".join(pieces)

    def header(self, name: str, value: str) -> str:
        if name.lower() in SENSITIVE_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            return f"{scheme} {MASK}".strip()
        return self.text(value)

    def headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(name, self.header(name, value)) for name, value in headers]

    def data(self, value: Any) -> Any:
        """A copy of JSON-like data with sensitive keys masked and secret values removed."""
        if isinstance(value, dict):
            # A PATCH operation can set a secret by path: {"op": "replace", "path": "password", "value": ...}
            path = value.get("path")
            secret_path = isinstance(path, str) and bool(_SENSITIVE_KEY.search(path))
            return {
                k: (MASK if v not in (None, "") and isinstance(k, str)
                    and (_SENSITIVE_KEY.search(k) or (secret_path and k == "value"))
                    else self.data(v))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.data(item) for item in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def body(self, raw: bytes | str | None) -> str:
        """A body for display: JSON pretty-printed with keys masked, other text scrubbed."""
        if raw is None:
            return ""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        try:
            parsed = jsondepth.loads(text)
        except ValueError:  # not JSON, or too deep to walk: shown as text
            return self.text(text)
        return self.json(parsed)

    def json(self, parsed: Any) -> str:
        """Parsed JSON for display: pretty-printed, sensitive keys masked, secret values removed."""
        return json.dumps(self.data(parsed), indent=2, ensure_ascii=False)


# The process-wide redactor: the plugin and the CLI register the target's token here.
redactor = Redactor()
