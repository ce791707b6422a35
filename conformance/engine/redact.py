"""The one place that removes secrets (and a target's control characters) from everything that leaves the process.

Layers, applied in this order: sensitive headers by name, sensitive body keys by name (SCIM puts
passwords in bodies), credentials in URLs (userinfo, secret-named query values), then every known
secret value wherever it still appears in text (a token echoed in an error body, a JSON key, a
URL, a traceback), in every form a server may echo it in: JSON-escaped, percent-encoded, base64
(also inside a `user:secret` Basic credential) and HTML-escaped. Text for display then has its
control characters escaped (`printable`), so a target cannot write to the user's terminal.
Reports, logs, failure messages, Allure attachments and curl lines all pass through `Redactor`.

A credential the user gives (the token, a password or secret query value in the base URL) is
checked by `check_credential` before anything is sent: under `MIN_SECRET_LENGTH` characters it is
refused (so short a value cannot be masked without masking ordinary words), and a value an HTTP
header cannot carry (non-ASCII, control characters) is refused with a clear error. A secret learnt
otherwise (recorded traffic) is masked however short.
"""

from __future__ import annotations

import base64
import html
import json
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

import ahocorasick

from conformance.engine import jsondepth
from conformance.engine.errors import HarnessError

__all__ = [
    "MASK", "MIN_LEARNT_LENGTH", "MIN_SECRET_LENGTH", "Redactor", "check_credential", "is_sensitive_header",
    "is_sensitive_query_name", "printable", "redactor", "register_credentials", "secret_forms", "shown_url",
    "url_credentials",
]

MASK = "[REDACTED]"
MIN_SECRET_LENGTH = 8
# A credential seen in traffic (a custom auth header, a recorded query value) is learnt from this
# length on: a shorter one would match ordinary text; the header itself is masked by its name.
MIN_LEARNT_LENGTH = 4
# A header is a credential by its name: the standard ones and any custom one (X-Custom-Auth,
# X-Session-Id, X-Signature). WWW-Authenticate only names a scheme; its value is still scanned
# for known secrets like any other.
_SENSITIVE_HEADER = re.compile(r"auth|token|key|secret|signature|cookie|session|password|credential", re.IGNORECASE)
_NOT_SENSITIVE_HEADERS = frozenset({"www-authenticate"})
_SENSITIVE_KEY = re.compile(r"password|secret|token|api[_-]?key|credential", re.IGNORECASE)
# Query parameters that carry a credential: the body-key words, signatures (Azure SAS `sig`,
# AWS `X-Amz-Signature`), sessions, and short names that are a credential by convention.
_SENSITIVE_QUERY = re.compile(
    r"password|secret|token|api[_-]?key|credential|signature|session|^(?:sig|key|code|auth|jwt|hmac|sas)$",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s@?#\"'<>]+)@")
_QUERY_PARAMETER = re.compile(r"(?<=[?&;])([A-Za-z0-9_.~%\[\]-]+)=([^&#\s\"'<>]*)")
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
# What a target must not send to a terminal: C0 controls but newline and tab, DEL, C1 controls
# (0x9b is a CSI on its own), and the bidi controls that reorder what a reader sees.
_UNPRINTABLE = {
    code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    for code in [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F),
                 *range(0x2066, 0x206A)]
    if code not in (0x09, 0x0A, 0x0D)
}
_LONE_CR = re.compile(r"\r(?!\n)")


def printable(text: str) -> str:
    """`text` with every control character a terminal would act on written as an escape (`\\x1b`).

    Newlines and tabs stay, and so does a CR before a newline; a lone CR (which rewrites the line
    it is on) does not."""
    text = text.translate(_UNPRINTABLE)
    return _LONE_CR.sub(r"\\r", text) if "\r" in text else text


def is_sensitive_header(name: str) -> bool:
    """Whether a header carries a credential by its name (Authorization, Cookie, X-Custom-Auth, ...)."""
    low = name.lower()
    return low not in _NOT_SENSITIVE_HEADERS and bool(_SENSITIVE_HEADER.search(low))


def is_sensitive_query_name(name: str) -> bool:
    """Whether a query parameter carries a credential by its name (`sig`, `access_token`, `api_key`, ...)."""
    return bool(_SENSITIVE_QUERY.search(unquote(name)))


def _base64_cores(raw: bytes) -> set[str]:
    """The base64 text of `raw` wherever it starts in an encoded byte string (offset 0, 1 or 2 mod 3):
    only the characters that depend on `raw` alone, so `user:secret` encoded shows the secret's core."""
    cores = set()
    for offset in range(3):
        bits_start, bits_end = 8 * offset, 8 * (offset + len(raw))
        first, last = -(-bits_start // 6), bits_end // 6  # characters wholly inside the secret's bits
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            core = encode(b"\0" * offset + raw).decode("ascii")[first:last]
            if len(core) >= MIN_SECRET_LENGTH:
                cores.add(core)
    return cores


def secret_forms(secret: str) -> set[str]:
    """`secret` as a server may echo it: as is, JSON- and Python-escaped, percent-encoded (quote and
    quote_plus, either hex case), HTML-escaped, and base64 (std and urlsafe, any alignment)."""
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1], repr(secret)[1:-1],
             html.escape(secret), html.escape(secret, quote=False)}
    raw = secret.encode("utf-8")
    forms.add(repr(raw)[2:-1])
    for encoded in (quote(secret, safe=""), quote(secret), quote_plus(secret)):
        forms |= {encoded, re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)}
    forms |= _base64_cores(raw)
    return {form for form in forms if form}


def shown_url(url: str) -> str:
    """`url` as it may be printed or written: no `user:password@`, secret query values masked."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    return _mask_url_credentials(parts.geturl())


def url_credentials(url: str | None) -> list[tuple[str, str]]:
    """(what, value) for each credential in `url`: the userinfo's password, secret query values."""
    if not url:
        return []
    parts = urlsplit(url)
    found = []
    if parts.password:
        found.append(("the password in the base URL", unquote(parts.password)))
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if value and is_sensitive_query_name(name):
            found.append((f"the base URL's query parameter {name!r}", value))
    return found


def check_credential(value: str, what: str) -> None:
    """Raise HarnessError, without showing `value`, when it cannot be sent or kept out of reports."""
    if len(value) < MIN_SECRET_LENGTH:
        raise HarnessError(
            f"{what} is {len(value)} character(s) long: scim-conformance refuses credentials under "
            f"{MIN_SECRET_LENGTH} characters, because a value that short cannot be masked in reports "
            "without masking ordinary text; use a longer one")
    bad = next((i for i, c in enumerate(value) if not " " <= c <= "~"), None)
    if bad is not None:
        kind = "a non-ASCII character" if ord(value[bad]) > 0x7F else "a control character"
        raise HarnessError(f"{what} holds {kind} (at position {bad + 1}): an HTTP header carries printable "
                           "ASCII only; check the value (a copy-paste may have added it)")


def register_credentials(token: str | None, token_env: str, base_url: str | None) -> None:
    """Check the token and the base URL's credentials (`check_credential`), then tell the redactor."""
    found = url_credentials(base_url)
    if token:
        found.insert(0, (f"the token in ${token_env}", token))
    for what, value in found:
        check_credential(value, what)
    for _, value in found:
        redactor.add_secret(value)


def _mask_query_value(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    if value and value != MASK and is_sensitive_query_name(name):
        return f"{name}={MASK}"
    return match.group(0)


def _mask_url_credentials(text: str) -> str:
    if "://" in text and "@" in text:
        text = _URL_USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    if "=" in text:
        text = _QUERY_PARAMETER.sub(_mask_query_value, text)
    return text


_PENDING_LIMIT = 32


def _automaton(words: list[str]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for word in words:
        automaton.add_word(word, len(word))
    automaton.make_automaton()  # linear in the words' total length, in C
    return automaton


class Redactor:
    """Knows the secret values of this process and removes them from anything."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._forms: set[str] = set()
        self._shortest = 0  # the length of the shortest form: a shorter text holds none
        self._ordered: list[str] = []  # in the order they came, for secrets_since()
        # Every generated password is a secret: a full run knows hundreds, a load run thousands.
        # One Aho-Corasick pass finds all of them in a text, where a loop of `in` checks grows
        # with their number (it was most of the cost of rendering an exchange).
        # Automatons of decreasing size, each at most half the one before (a binary counter): a
        # batch of new forms is merged with the smaller automatons only, so a form is rebuilt into
        # an automaton a logarithmic number of times, and a text is searched by a few automatons.
        self._levels: list[tuple[list[str], ahocorasick.Automaton]] = []
        # Forms not yet in an automaton, looked for one by one: a run learns a password per
        # user it creates, and rebuilding an automaton for each one cost more than the search.
        self._pending: list[str] = []
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, value: str | None) -> None:
        """Mask `value`, in each of its `secret_forms`, from now on (however short: a user's own
        credential under MIN_SECRET_LENGTH is refused before, by `check_credential`)."""
        if not value or not value.strip():
            return
        with self._lock:
            if value in self._secrets:
                return
            self._secrets.add(value)
            self._ordered.append(value)
            fresh = secret_forms(value) - self._forms
            self._forms |= fresh
            if fresh:
                shortest = min(map(len, fresh))
                self._shortest = min(self._shortest, shortest) if self._shortest else shortest
            self._pending.extend(fresh)
            if len(self._pending) >= _PENDING_LIMIT:
                words, self._pending = self._pending, []
                while self._levels and len(self._levels[-1][0]) <= 2 * len(words):
                    words = self._levels.pop()[0] + words
                self._levels.append((words, _automaton(words)))

    def learn_credentials(self, headers: Iterable[tuple[str, str]]) -> None:
        """Treat the values of the credential headers a request carried (`X-Custom-Auth: ...`, with
        and without a scheme word) as secrets, so that a target echoing them is masked too."""
        for name, value in headers:
            if is_sensitive_header(name):
                for credential in {value, value.partition(" ")[2]}:
                    if len(credential) >= MIN_LEARNT_LENGTH:
                        self.add_secret(credential)

    def secrets_since(self, count: int) -> list[str]:
        """The secrets learnt after the first `count` (to pass them on to a writer process)."""
        with self._lock:
            return self._ordered[count:]

    def mask(self, text: str) -> str:
        """`text` with every known secret, URL credential and `Bearer <credential>` masked (not escaped)."""
        if self._secrets and len(text) >= self._shortest:
            text = self._mask_secrets(text)
        return _AUTH_VALUE.sub(lambda m: f"{m.group(1)} {MASK}", _mask_url_credentials(text))

    def text(self, text: str) -> str:
        """`text` for display: `mask`ed, and its control characters escaped (`printable`)."""
        return printable(self.mask(text))

    def _mask_secrets(self, text: str) -> str:
        with self._lock:  # a concurrent step's threads may add secrets while another one renders
            found = [(end + 1 - length, end + 1) for _, automaton in self._levels
                     for end, length in automaton.iter(text)]
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
        """A header's value for display: a credential header masked whole (an Authorization keeps
        its scheme word), any other one masked and escaped as text."""
        if is_sensitive_header(name):
            scheme, _, rest = value.partition(" ")
            keep = rest and name.lower().endswith("authorization") and scheme.isalpha()
            return f"{scheme} {MASK}" if keep else MASK
        return self.text(value)

    def headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(name, self.header(name, value)) for name, value in headers]

    def data(self, value: Any) -> Any:
        """A copy of JSON-like data with sensitive keys masked and secrets removed from keys and values.

        Not escaped: `json` (and `text` on the result) is what is shown."""
        if isinstance(value, dict):
            # A PATCH operation can set a secret by path: {"op": "replace", "path": "password", "value": ...}
            path = value.get("path")
            secret_path = isinstance(path, str) and bool(_SENSITIVE_KEY.search(path))
            return {
                (self.mask(k) if isinstance(k, str) else k):
                    (MASK if v not in (None, "") and isinstance(k, str)
                     and (_SENSITIVE_KEY.search(k) or (secret_path and k == "value"))
                     else self.data(v))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.data(item) for item in value]
        if isinstance(value, str):
            return self.mask(value)
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
        """Parsed JSON for display: pretty-printed, sensitive keys masked, secrets removed, escaped."""
        return printable(json.dumps(self.data(parsed), indent=2, ensure_ascii=False))


# The process-wide redactor: the plugin and the CLI register the target's token here.
redactor = Redactor()
