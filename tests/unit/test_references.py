"""The reference catalogue: docs/references.md is its rendering, every cited id resolves, reports explain ids."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from conformance.engine.references import (
    DOCS_PAGE,
    catalogue,
    explain,
    link,
    reference_lines,
    render_markdown,
    resolve,
)

REPO = Path(__file__).resolve().parents[2]


def test_docs_page_is_the_rendering_of_the_catalogue():
    # Regenerate with: python -m conformance.engine.references > docs/references.md
    assert (REPO / DOCS_PAGE).read_text(encoding="utf-8") == render_markdown()


def test_every_entry_has_a_summary_and_public_https_sources():
    for ref in catalogue().values():
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", ref.id), ref.id
        assert ref.summary and "\n" not in ref.summary, ref.id
        assert ref.sources and all(url.startswith("https://") for url in ref.sources), ref.id


def test_rfc_sections_resolve_by_pattern():
    assert link("RFC 7644 §3.5.2") == ("RFC 7644 §3.5.2", "https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2")
    assert link("RFC 7643") == ("RFC 7643", "https://www.rfc-editor.org/rfc/rfc7643")
    assert resolve("RFC 7644 3.5.2") is None and resolve("Q16") is None and resolve("OKTA-20") is None


def test_a_failure_report_explains_each_id_in_one_line():
    assert explain("okta-scim-20").startswith("okta-scim-20 — Okta's SCIM 2.0 reference")
    assert explain("okta-scim-20").endswith("(https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20)")
    lines = reference_lines(["RFC 7644 §3.3", "okta-scim-20", "RFC 7644 §3.3"], "Okta stores the id", limit=1)
    assert lines == [
        "Why: Okta stores the id",
        "References:",
        "  RFC 7644 §3.3 — SCIM protocol, section 3.3 (https://www.rfc-editor.org/rfc/rfc7644#section-3.3)",
        f"  … 1 more: okta-scim-20 (see {DOCS_PAGE})",
    ]


def _cited(data: object) -> list[str]:
    if isinstance(data, dict):
        found = [r for r in data.get("refs", []) if isinstance(r, str)]
        return found + [r for key, value in data.items() if key != "refs" for r in _cited(value)]
    if isinstance(data, list):
        return [r for item in data for r in _cited(item)]
    return []


def test_every_shipped_scenario_and_profile_cites_only_catalogued_references():
    files = [*REPO.glob("scenarios/**/*.yaml"), *REPO.glob("profiles/**/*.yaml")]
    cited = {ref for path in files for ref in _cited(yaml.safe_load(path.read_text(encoding="utf-8")))}
    assert cited and not {ref for ref in cited if resolve(ref) is None}
