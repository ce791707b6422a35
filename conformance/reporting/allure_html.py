"""Builds the Allure HTML report offline, as one self-contained file, from allure-results.

Uses the Allure 3 command line (npm package `allure`), which runs on Node alone; the README's
setup installs it into .tools/. Its `allure2` plugin draws the classic report (Overview,
Categories, Suites, Behaviors, ...) into a single `index.html` that embeds its data. Before
that, where each IdP stands goes onto the Overview (conformance.reporting.allure_meta). The
generated page loads Google Tag Manager for Allure's own analytics; we strip it so the report
makes no network request.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from conformance.reporting.allure_meta import report_name, write_verdicts
from conformance.reporting.matrix import Matrix, read_results

__all__ = ["ALLURE_MAJOR", "AllureUnavailable", "build_html", "find_allure"]

ALLURE_MAJOR = 3  # the command line's options and config file are Allure 3's
# Where the README's setup installs the Allure CLI (npm --prefix .tools).
LOCAL_ALLURE = Path(".tools") / "node_modules" / ".bin" / "allure"
_ANALYTICS = re.compile(
    r'<script[^>]*src="https://www\.googletagmanager\.com[^"]*"[^>]*></script>\s*'
    r"<script>(?:(?!</script>).)*?gtag\((?:(?!</script>).)*?</script>",
    re.DOTALL,
)
_INSTALL = "`make install` (installs it into .tools/), or `npm install --prefix .tools allure@3`, or set ALLURE_BIN"


class AllureUnavailable(RuntimeError):
    """The Allure 3 CLI (or Node, which runs it) is not installed."""


def find_allure(start: Path | None = None) -> Path:
    """$ALLURE_BIN, else .tools/node_modules/.bin/allure at or above `start`, else `allure` on PATH."""
    configured = os.environ.get("ALLURE_BIN")
    if configured:
        if Path(configured).is_file():
            return Path(configured)
        raise AllureUnavailable(f"ALLURE_BIN={configured} does not exist")
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / LOCAL_ALLURE).is_file():
            return folder / LOCAL_ALLURE
    on_path = shutil.which("allure")
    if on_path:
        return Path(on_path)
    raise AllureUnavailable(f"the Allure CLI is not installed: run {_INSTALL}")


def _check_version(allure: Path, env: dict[str, str]) -> None:
    try:
        done = subprocess.run([str(allure), "--version"], capture_output=True, text=True, timeout=60, env=env,
                              check=False)
    except OSError as exc:  # e.g. Node is missing: the script's interpreter line fails
        raise AllureUnavailable(f"{allure} does not start ({exc}): the Allure 3 CLI needs Node 20+") from None
    version = done.stdout.strip()
    if done.returncode != 0 or not version.split(".")[0].isdigit():
        raise AllureUnavailable(f"{allure} --version failed: {(done.stderr or done.stdout).strip()[:200]}")
    if int(version.split(".")[0]) != ALLURE_MAJOR:
        raise AllureUnavailable(f"{allure} is Allure {version}; the report needs Allure {ALLURE_MAJOR}: run {_INSTALL}")


def build_html(results: Path, output: Path, *, timeout: float = 300.0) -> Path:
    """Generate `output/index.html` from `results`; returns the path of the page."""
    if not results.is_dir() or not any(results.iterdir()):
        raise FileNotFoundError(f"no Allure results in {results}: run the scenarios first")
    allure = find_allure()
    env = {**os.environ, "ALLURE_NO_ANALYTICS": "true"}
    _check_version(allure, env)
    matrix = Matrix(tuple(read_results(results)))
    write_verdicts(results, matrix)
    config = {"name": report_name(matrix), "output": str(output.resolve()),
              "plugins": {"allure2": {"options": {"singleFile": True, "reportName": report_name(matrix)}}}}
    page = output / "index.html"
    page.unlink(missing_ok=True)  # a failed build must not leave an earlier page that looks like this one
    with tempfile.TemporaryDirectory(prefix="allurerc-") as folder:
        rc = Path(folder) / "allurerc.json"
        rc.write_text(json.dumps(config), encoding="utf-8")
        # cwd: the temporary folder, where Allure 3 finds no other config or history of ours.
        completed = subprocess.run(
            [str(allure.resolve()), "generate", "--config", str(rc), str(results.resolve())],
            capture_output=True, text=True, timeout=timeout, env=env, check=False, cwd=folder,
        )
    if completed.returncode != 0 or not page.is_file():
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"allure generate failed (exit {completed.returncode}): " + " | ".join(tail))
    html = page.read_text(encoding="utf-8")
    page.write_text(_ANALYTICS.sub("", html), encoding="utf-8")
    return page
