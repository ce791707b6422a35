"""Allure output: each scenario step an Allure step, with the redacted exchange attached.

`AllureReporter` implements the runner's `Reporter`. `allure.step` and `allure.attach` are
no-ops when no Allure listener is active, so the runner works the same without `--alluredir`.
Everything attached has been through the redactor: allure-results is written to disk. With a
`BackgroundFileLogger` in place (the pytest plugin installs it), the text of an exchange is
rendered by its writer process, while the run goes on.
"""

from __future__ import annotations

import contextlib
import difflib
import json
from typing import Any
from urllib.parse import urlsplit

import allure

from conformance.engine.exchange import Exchange
from conformance.engine.redact import Redactor, printable
from conformance.reporting.allure_writer import ExchangeBody
from conformance.reporting.reproduce import format_exchange

__all__ = ["AllureReporter", "json_diff"]


class AllureReporter:
    """Records steps, exchanges and failures into the current Allure test."""

    def __init__(self, redactor: Redactor, *, deferred: bool = False) -> None:
        self.redactor = redactor
        self.deferred = deferred  # exchanges rendered by the BackgroundFileLogger's writer process

    def step(self, title: str) -> contextlib.AbstractContextManager[Any]:
        return allure.step(self.redactor.text(title))

    def exchange(self, exchange: Exchange, token_env: str) -> None:
        """One attachment per exchange, named `GET /Users?... -> 200`: request, response, curl.

        One file rather than three: a run writes one per request, and creating files is most
        of what reporting costs."""
        sent, received, redactor = exchange.sent, exchange.received, self.redactor
        name = f"{sent.method} {redactor.text(_path(sent.url))} -> {received.status if received else 'no response'}"
        if self.deferred:
            body: Any = ExchangeBody(exchange, redactor, token_env)
        else:
            body = format_exchange(exchange, redactor, token_env)
        allure.attach(body, name=name, attachment_type=allure.attachment_type.TEXT)

    def failure(self, title: str, report: str, expected: Any, actual: Any) -> None:
        allure.attach(report, name="failure", attachment_type=allure.attachment_type.TEXT)
        if expected is None and actual is None:
            return
        expected, actual = self.redactor.data(expected), self.redactor.data(actual)
        comparison = {"expected": expected, "actual": actual}
        allure.attach(printable(json.dumps(comparison, indent=2, ensure_ascii=False, default=str)),
                      name="expected vs actual", attachment_type=allure.attachment_type.JSON)
        allure.attach(printable(json_diff(expected, actual)), name="diff (expected -> actual)",
                      attachment_type=allure.attachment_type.TEXT)


def json_diff(expected: Any, actual: Any) -> str:
    """A unified diff of expected vs actual JSON, the actual cut down to the expected keys so that
    the diff shows what differs, not everything else the server returned."""
    def lines(value: Any) -> list[str]:
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str).splitlines()

    diff = difflib.unified_diff(lines(expected), lines(_shaped_like(expected, actual)),
                                "expected", "actual", lineterm="")
    return "\n".join(diff) or "(no difference in the compared keys)"


def _shaped_like(expected: Any, actual: Any) -> Any:
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {k: _shaped_like(v, actual[k]) for k, v in expected.items() if k in actual}
    return actual


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
