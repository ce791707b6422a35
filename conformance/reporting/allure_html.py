"""Builds the Allure HTML report offline, as one self-contained file, from allure-results.

Uses the Allure 2 command line (npm package allure-commandline, which bundles its Java
distribution; the README's setup installs it into .tools/). The generated page loads Google
Tag Manager for Allure's own analytics; we strip it so the report makes no network request.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

__all__ = ["AllureUnavailable", "build_html", "find_allure"]

# Where the README's setup installs the Allure CLI (npm --prefix .tools).
LOCAL_ALLURE = Path(".tools") / "node_modules" / ".bin" / "allure"
_ANALYTICS = re.compile(
    r'<script[^>]*src="https://www\.googletagmanager\.com[^"]*"[^>]*></script>\s*'
    r"<script>(?:(?!</script>).)*?gtag\((?:(?!</script>).)*?</script>",
    re.DOTALL,
)


class AllureUnavailable(RuntimeError):
    """The Allure CLI or the Java runtime it needs is not installed."""


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
    raise AllureUnavailable(
        "the Allure CLI is not installed: run `make demo` (installs it into .tools/), or "
        "`npm install --prefix .tools allure-commandline`, or set ALLURE_BIN"
    )


def build_html(results: Path, output: Path, *, timeout: float = 300.0) -> Path:
    """Generate `output/index.html` from `results`; returns the path of the page."""
    if not results.is_dir() or not any(results.iterdir()):
        raise FileNotFoundError(f"no Allure results in {results}: run the scenarios first")
    allure = find_allure()
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise AllureUnavailable("the Allure CLI needs Java 8+: install a JRE (e.g. openjdk-17-jre-headless)")
    env = {**os.environ, "ALLURE_NO_ANALYTICS": "1"}
    completed = subprocess.run(
        [str(allure), "generate", str(results), "-o", str(output), "--clean", "--single-file"],
        capture_output=True, text=True, timeout=timeout, env=env, check=False,
    )
    page = output / "index.html"
    if completed.returncode != 0 or not page.is_file():
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"allure generate failed (exit {completed.returncode}): " + " | ".join(tail))
    html = page.read_text(encoding="utf-8")
    page.write_text(_ANALYTICS.sub("", html), encoding="utf-8")
    return page
