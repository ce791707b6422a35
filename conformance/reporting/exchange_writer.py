"""The attachment writer process: renders exchanges and writes Allure attachment files.

Started by `conformance.reporting.allure_writer` (a ``python -c`` that calls `main(FOLDER)`) and
fed through its standard input, so that the test's process spends its time on the scenarios:
rendering an exchange for display (redaction, pretty-printed JSON, the curl line) and creating
its file happen here, on another core, while the run waits for the server.

Frames: a kind byte, the length of the name, the length of the body, the name, the body.
  b"S"  a secret value for the redactor (the token, a generated password); always sent before
        any exchange that could hold it. It stays in this process's memory; nothing is written.
  b"F"  a file: the body is written as it is, to FOLDER/name.
  b"X"  an exchange: the body is a pickled tuple of plain values (`exchange_fields`); its text
        (request, response, curl line) is rendered here and written to FOLDER/name.
  b"R"  an Allure test result, container or globals (allure-commons model object), pickled:
        written to FOLDER/name as Allure's JSON, byte for byte what allure-commons' file logger
        writes (`result_json`).
When the input ends, one line is printed: the number of files that could not be written, a tab,
and the first error.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import struct
import sys
from typing import Any

from conformance.engine.exchange import NOT_JSON, Exchange, Received, Sent
from conformance.engine.redact import Redactor
from conformance.reporting.reproduce import format_exchange

__all__ = ["FRAME", "exchange_fields", "main", "result_json"]

FRAME = struct.Struct("<cII")  # kind, length of the name, length of the body


def exchange_fields(exchange: Exchange, token_env: str) -> tuple[Any, ...]:
    """An exchange as plain values, cheap to pickle (the answer's JSON is parsed again here)."""
    sent, received = exchange.sent, exchange.received
    answer = None if received is None else (received.status, received.reason, received.headers, received.text,
                                            received.elapsed_ms)
    return (sent.method, sent.url, sent.headers, sent.body, answer, exchange.error, token_env)


def _exchange(fields: tuple[Any, ...]) -> tuple[Exchange, str]:
    method, url, headers, body, answer, error, token_env = fields
    received = None
    if answer is not None:
        status, reason, answer_headers, text, elapsed_ms = answer
        received = Received(status, reason, answer_headers, text, NOT_JSON, elapsed_ms)
    return Exchange(Sent(method, url, headers, body), received, error), token_env


def result_json(item: Any) -> bytes:
    """An allure-commons model object as Allure's JSON: the fields that are set (False counts as
    set), indented when ALLURE_INDENT_OUTPUT is set, as allure-commons' file logger writes them."""
    from attr import asdict  # allure-commons' model objects are attrs classes

    indent = 4 if os.environ.get("ALLURE_INDENT_OUTPUT") else None
    data = asdict(item, filter=lambda _, v: v or v is False)
    return json.dumps(data, indent=indent, ensure_ascii=False).encode("utf-8")


def main(folder: str) -> int:
    # Ctrl-C and a CI's SIGTERM reach the whole process group: the run then cleans up and ends,
    # and this process must write what it was sent first. It ends when its input does.
    for name in ("SIGINT", "SIGTERM"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    redactor = Redactor()
    read = sys.stdin.buffer.read
    failed, first = 0, ""
    while True:
        head = read(FRAME.size)
        if len(head) < FRAME.size:
            break
        kind, name_size, body_size = FRAME.unpack(head)
        name, body = read(name_size).decode("utf-8"), read(body_size)
        if kind == b"S":
            redactor.add_secret(body.decode("utf-8"))
            continue
        try:
            if kind == b"X":
                exchange, token_env = _exchange(pickle.loads(body))
                body = format_exchange(exchange, redactor, token_env).encode("utf-8")
            elif kind == b"R":
                body = result_json(pickle.loads(body))
            # Straight to its final name: nothing reads allure-results before the session ends,
            # and the session's end waits for this process.
            with open(os.path.join(folder, name), "wb") as out:
                out.write(body)
        except Exception as exc:  # counted and reported; the other files still get written
            failed += 1
            first = first or f"{name}: {type(exc).__name__}: {exc}"
    print(f"{failed}\t{first}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
