"""Human-readable, redacted renderings of an exchange: request/response text and a curl line."""

from __future__ import annotations

import json
import shlex

from conformance.engine.exchange import INVALID_TOKEN, NOT_JSON, Exchange, Received, Sent
from conformance.engine.redact import Redactor, printable

__all__ = ["curl_line", "format_exchange", "format_received", "format_sent"]

MAX_BODY_CHARS = 4000


def _clip(text: str) -> str:
    if len(text) <= MAX_BODY_CHARS:
        return text
    return text[:MAX_BODY_CHARS] + f"\n... ({len(text) - MAX_BODY_CHARS} more characters)"


def _format(first_line: str, headers: tuple[tuple[str, str], ...], body: bytes | str | None,
            redactor: Redactor, parsed: object = NOT_JSON) -> str:
    lines = [first_line, *(f"{name}: {value}" for name, value in redactor.headers(headers))]
    if body:
        # An answer's JSON was parsed once already, when it arrived: not again for display.
        shown = redactor.body(body) if parsed is NOT_JSON else redactor.json(parsed)
        lines += ["", _clip(shown)]
    return "\n".join(lines)


def format_sent(sent: Sent, redactor: Redactor) -> str:
    # What the request carried in a credential header is masked wherever the answer echoes it; not the
    # deliberately invalid token of an auth test, which the report shows.
    redactor.learn_credentials((name, value) for name, value in sent.headers if not value.endswith(INVALID_TOKEN))
    return _format(f"{sent.method} {redactor.text(sent.url)}", sent.headers, sent.body, redactor)


def format_received(received: Received, redactor: Redactor) -> str:
    first = f"HTTP {received.status} {redactor.text(received.reason)} ({received.elapsed_ms:.0f} ms)"
    return _format(first, received.headers, received.text, redactor, received.json)


def format_exchange(exchange: Exchange, redactor: Redactor, token_env: str = "SCIM_TOKEN") -> str:
    """The request, the response (or why there is none) and the curl line, in one text."""
    request = format_sent(exchange.sent, redactor)  # first: it learns the request's credentials
    answer = (format_received(exchange.received, redactor) if exchange.received is not None
              else f"(no response: {redactor.text(exchange.error or 'unknown error')})")
    return "\n\n".join([request, answer,
                         "Reproduce with:\n" + curl_line(exchange, redactor, token_env)])


def curl_line(exchange: Exchange, redactor: Redactor, token_env: str = "SCIM_TOKEN") -> str:
    """One shell line that repeats the request; the token is `$<token_env>`, never its value."""
    sent = exchange.sent
    parts = ["curl", "-sS", "-i", "-X", sent.method, shlex.quote(redactor.text(sent.url))]
    for name, value in sent.headers:
        if name.lower() == "authorization":
            # "Bearer <token>" keeps its scheme; a bare token (header auth) has none.
            scheme, _, credential = value.partition(" ")
            prefix = f"{scheme} " if credential else ""
            if credential == INVALID_TOKEN:
                parts += ["-H", shlex.quote(f"{name}: {value}")]
            else:
                # Double quotes so the shell expands the variable; the value never appears.
                parts += ["-H", f'"{name}: {redactor.text(prefix)}${token_env}"']
            continue
        parts += ["-H", shlex.quote(f"{name}: {redactor.header(name, value)}")]
    if sent.body:
        try:
            compact = printable(json.dumps(redactor.data(json.loads(sent.body)), ensure_ascii=False))
        except ValueError:
            compact = redactor.text(sent.body.decode("utf-8", "replace"))
        parts += ["--data-raw", shlex.quote(compact)]
    return " ".join(parts)
