"""A pytest plugin for the benchmark: writes every request the harness sent, in order, to a file.

Loaded by bench/run.py into the timed harness run (`-p record_exchanges`, with bench/ on
PYTHONPATH) and given the file in $BENCH_RECORD. It reads the exchanges the harness's Transport
already keeps (`Transport.exchanges`), once, when the session ends: nothing is added to the
time of the scenarios themselves. The real token is replaced by a marker; bench/run.py puts it
back when it replays.
"""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import pytest

TOKEN_MARKER = "${BENCH_TOKEN}"
_started: list[float] = []
_loop: list[float] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    _started.append(time.perf_counter())


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    _loop.append(time.perf_counter())  # collection is over: the scenarios start


@pytest.hookimpl(trylast=True)  # after the conformance plugin's own last request (environment.properties)
def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("BENCH_RECORD")
    if not target or hasattr(session.config, "workerinput"):
        return
    from conformance.pytest_plugin.plugin import session_exchanges

    token = os.environ.get("SCIM_TOKEN") or ""
    records = []
    for exchange in session_exchanges(session.config):
        sent, received = exchange.sent, exchange.received
        headers = [[k, v.replace(token, TOKEN_MARKER) if token and k.lower() == "authorization" else v]
                   for k, v in sent.headers]
        records.append({
            "method": sent.method,
            "url": sent.url,
            "headers": headers,
            "body": base64.b64encode(sent.body).decode() if sent.body is not None else None,
            "status": received.status if received is not None else None,
            "answer": received.text if received is not None and received.text.startswith("{") else None,
        })
    now = time.perf_counter()
    timing = {"session_s": now - _started[0] if _started else None,
              "collection_s": _loop[0] - _started[0] if _started and _loop else None,
              "scenarios_s": now - _loop[0] if _loop else None}
    Path(target).write_text(json.dumps({**timing, "exchanges": records}), encoding="utf-8")
