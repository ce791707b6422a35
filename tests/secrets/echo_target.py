"""A hostile target for the secret tests: it echoes every secret it knows, in every form, and writes
terminal escape sequences and NUL bytes into its answers.

It answers like a (tiny) SCIM server: JSON for a GET, a text/plain page under `/plain`, and 204 with
a body for a DELETE. Each answer carries the secrets as JSON keys and values, JSON-escaped,
percent-encoded, base64 (alone and as a `user:secret` Basic credential), HTML-escaped, in headers
(`X-Custom-Auth`, `WWW-Authenticate`, `Location`) and in the reason phrase, plus the request's own
URL and headers as received. It runs on 127.0.0.1 through `tests.hostile.servers.HostileServer`.
"""

from __future__ import annotations

import base64
import html
import http.server
import json
import threading
from urllib.parse import quote, quote_plus

from tests.hostile.servers import Behaviour

# What a terminal would act on: colours, an OSC 52 clipboard write, a screen clear (C1 CSI), BEL,
# NUL, a right-to-left override and a lone carriage return.
TERMINAL_ATTACK = "\x1b[31mRED\x1b[0m \x1b]52;c;SGFja2Vk\x07 \x9b2J \x00 \u202eevil\u202c over\rwrite"
RAW_CONTROLS = ("\x1b", "\x00", "\x07", "\x9b", "\u202e", "\r\x20")


def echo_forms(secret: str) -> dict[str, str]:
    """Each form the target echoes `secret` in, by name."""
    raw = secret.encode("utf-8")
    return {
        "raw": secret,
        "json": json.dumps(secret)[1:-1],
        "quote": quote(secret, safe=""),
        "quote_path": quote(secret),
        "quote_plus": quote_plus(secret),
        "base64": base64.b64encode(raw).decode(),
        "base64_bare": base64.b64encode(raw).decode().rstrip("="),
        "base64_url": base64.urlsafe_b64encode(raw).decode(),
        "basic": base64.b64encode(b"scim-user:" + raw).decode(),
        "html": html.escape(secret),
    }


def echo_body(secrets: list[str], path: str, headers: dict[str, str]) -> dict[str, object]:
    body: dict[str, object] = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0, "Resources": [],
        "terminal": TERMINAL_ATTACK, "path": path, "received": headers,
    }
    for number, secret in enumerate(secrets):
        body[secret] = f"a secret as a JSON key ({number})"
        body[f"forms{number}"] = echo_forms(secret)
    return body


def echo(secrets: list[str]) -> Behaviour:
    """The behaviour: every answer carries every secret in every form, and the terminal attack."""
    forms = " ".join(f for s in secrets for f in echo_forms(s).values())

    def behaviour(handler: http.server.BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        received = dict(handler.headers.items())
        if handler.path.split("?")[0].endswith("/plain"):
            status, content_type = 200, "text/plain; charset=utf-8"
            body = f"{TERMINAL_ATTACK}\n{forms}\n{received}\n{handler.path}\n".encode()
        else:
            status, content_type = (204, "application/scim+json") if handler.command == "DELETE" else (
                200, "application/scim+json")
            body = json.dumps(echo_body(secrets, handler.path, received), ensure_ascii=False).encode()
        handler.send_response(status, f"OK {secrets[0]}")
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("X-Custom-Auth", secrets[0])
        handler.send_header("X-Echo", forms)
        handler.send_header("WWW-Authenticate", f'Bearer realm="{secrets[0]}"')
        handler.send_header("Location", f"http://scim-user:{secrets[1]}@127.0.0.1/v2/Users/1?sig={secrets[2]}")
        handler.end_headers()
        handler.wfile.write(body)  # also after a 204: the body a 204 must not have

    return behaviour
