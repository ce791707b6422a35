"""What the single-file HTML report holds, read without a browser: the JSON files it embeds."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

__all__ = ["embedded_data", "report_test_cases"]

# The page embeds each of its data files as d("data/...json", "<base64>") (quotes of either kind).
_EMBEDDED = re.compile(r"""d\((['"])([^'"]+\.json)\1,\s*(['"])([^'"]*)\3\)""")


def embedded_data(page: Path) -> dict[str, Any]:
    """The JSON files Allure's single-file report embeds (data/..., widgets/...), by name."""
    html = page.read_text(encoding="utf-8")
    return {name: json.loads(base64.b64decode(payload)) for _, name, _, payload in _EMBEDDED.findall(html)}


def report_test_cases(page: Path) -> tuple[int, list[str]]:
    """The test-case count on the report's Overview, and the name of each test case it holds;
    fails when the report filed a test as a retry of another."""
    data = embedded_data(page)
    cases = [case for name, case in data.items() if name.startswith("data/test-cases/")]
    retried = [case["name"] for case in cases if case.get("extra", {}).get("retries")]
    assert not retried, f"filed as retries of another test case: {retried}"
    return data["widgets/summary.json"]["statistic"]["total"], sorted(case["name"] for case in cases)
