"""How the HTML report's builder treats the Allure CLI it finds: only Allure 3, and a failed
build leaves no page that could pass for this run's."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.reporting.allure_html import AllureUnavailable, build_html


def _fake_allure(folder: Path, version: str, generate_exit: int) -> Path:
    script = folder / "allure"
    script.write_text(f"#!/bin/sh\n[ \"$1\" = --version ] && {{ echo {version}; exit 0; }}\n"
                      f"echo 'generate: broken' >&2; exit {generate_exit}\n")
    script.chmod(0o755)
    return script


def _results(folder: Path) -> Path:
    results = folder / "allure-results"
    results.mkdir()
    (results / "environment.properties").write_text("target=http://127.0.0.1/v2\n")
    return results


def test_an_allure_2_command_line_is_refused_with_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ALLURE_BIN", str(_fake_allure(tmp_path, "2.46.1", 0)))
    with pytest.raises(AllureUnavailable, match=r"is Allure 2\.46\.1; the report needs Allure 3: run `make install`"):
        build_html(_results(tmp_path), tmp_path / "html")


def test_a_failed_build_leaves_no_earlier_page_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ALLURE_BIN", str(_fake_allure(tmp_path, "3.18.0", 3)))
    earlier = tmp_path / "html" / "index.html"
    earlier.parent.mkdir()
    earlier.write_text("<html>an earlier run</html>")
    with pytest.raises(RuntimeError, match=r"allure generate failed \(exit 3\): generate: broken"):
        build_html(_results(tmp_path), tmp_path / "html")
    assert not earlier.exists()
