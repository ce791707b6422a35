"""What the Allure report shows around the tests: links, environment and failure categories.

- `ref_links`: a scenario's `refs` as Allure links (catalogue ids to their source, RFC sections to
  rfc-editor.org, URLs as is; see conformance.engine.references);
- `environment`: `environment.properties` (target URL without secrets, IdP profiles, tool
  version, what the server advertises in /ServiceProviderConfig);
- `categories`: `categories.json`, which sorts failures by the `Category:` line of the failure
  report (see `conformance.engine.runner.failure_category`) and puts harness errors apart;
- `write_verdicts` and `report_name`: where each IdP stands, on the report's first screen (the
  Overview's title and the first lines of its Environment widget), once the run is over.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance.engine.redact import redactor, shown_url
from conformance.engine.references import link
from conformance.engine.runner import NOT_SCIM, RFC_DEVIATION, idp_category
from conformance.reporting.matrix import Certification, Matrix

__all__ = ["VERDICT_PREFIX", "categories", "environment", "ref_links", "report_name",
           "write_environment_and_categories", "write_verdicts"]

VERDICT_PREFIX = "verdict."  # environment.properties keys of the per-IdP verdicts

def ref_links(refs: Iterable[str]) -> list[tuple[str, str]]:
    """(name, url) for each ref that resolves (lint has already rejected the others)."""
    return list(dict.fromkeys(found for found in map(link, refs) if found is not None))


def _flatten(value: Any, prefix: str) -> dict[str, str]:
    if isinstance(value, dict):
        flat: dict[str, str] = {}
        for key, item in value.items():
            if key in ("schemas", "meta"):
                continue
            flat.update(_flatten(item, f"{prefix}.{key}"))
        return flat
    if isinstance(value, list):
        names = [str(i.get("type") or i.get("name")) if isinstance(i, dict) else str(i) for i in value]
        return {prefix: ", ".join(names)}
    return {prefix: json.dumps(value) if isinstance(value, bool) else str(value)}


def environment(
    target_url: str | None, target_id: str, idps: Iterable[str], service_provider_config: Any
) -> dict[str, str]:
    """The lines of environment.properties, keys and values redacted (the server's answer is in them)."""
    env = {
        "scim-conformance": __version__,
        "target": shown_url(target_url) if target_url else "(none)",
        "target.profile": target_id,
        "idp.profiles": ", ".join(sorted(idps)),
    }
    if isinstance(service_provider_config, dict):
        env.update(_flatten(service_provider_config, "serviceProviderConfig"))
    else:
        env["serviceProviderConfig"] = str(service_provider_config)
    return {redactor.text(key): redactor.text(value) for key, value in env.items()}


def categories(idp_families: Iterable[str]) -> list[dict[str, Any]]:
    """Allure categories, most specific first (a result goes into the first that matches)."""
    def by_line(name: str) -> dict[str, Any]:
        # [\s\S]: any character, newlines too, in every regex dialect a report reads this with (Java
        # matches the whole message, JavaScript searches it and has no inline (?s) flag).
        return {"name": name, "matchedStatuses": ["failed"],
                "messageRegex": rf"[\s\S]*Category: {re.escape(name)}[\s\S]*"}

    return [
        by_line(NOT_SCIM),
        by_line(RFC_DEVIATION),
        *(by_line(idp_category(family)) for family in sorted(set(idp_families))),
        {"name": "harness or scenario error", "matchedStatuses": ["broken"]},
    ]


def _escape(text: str) -> str:
    # java.util.Properties: backslashes, and separators in keys, must be escaped.
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _property(item: tuple[str, str]) -> str:
    key, value = item
    return f"{_escape(key).replace('=', chr(92) + '=').replace(':', chr(92) + ':')}={_escape(value)}\n"


def _is_certified(certification: Certification) -> bool:
    return certification.level.startswith("certified")


def write_verdicts(results_dir: Path, matrix: Matrix) -> None:
    """Put `verdict.<idp>` lines first in environment.properties (earlier ones replaced): the
    Environment widget lists them in that order, on the Overview the report opens with."""
    path = results_dir / "environment.properties"
    kept = [line + "\n" for line in (path.read_text(encoding="utf-8").splitlines() if path.is_file() else [])
            if not line.startswith(VERDICT_PREFIX)]
    verdicts = {}
    for certification in map(matrix.certification, matrix.idps):
        verdicts[VERDICT_PREFIX + certification.idp] = (
            f"{certification.level} ({certification.passed}/{certification.ran} passed)")
    path.write_text("".join(map(_property, verdicts.items())) + "".join(kept), encoding="utf-8")


def report_name(matrix: Matrix) -> str:
    """The title of the Overview: which IdPs the run certifies."""
    certified = [c.idp for c in map(matrix.certification, matrix.idps) if _is_certified(c)]
    if not matrix.idps:
        return "SCIM conformance: no scenario ran"
    if not certified:
        return f"SCIM conformance: no IdP certified (of {len(matrix.idps)})"
    return f"SCIM conformance: certified for {', '.join(certified)} ({len(certified)} of {len(matrix.idps)} IdPs)"


def write_environment_and_categories(
    results_dir: Path, env: dict[str, str], idp_families: Iterable[str]
) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "environment.properties").write_text("".join(map(_property, env.items())), encoding="utf-8")
    (results_dir / "categories.json").write_text(
        json.dumps(categories(idp_families), indent=2), encoding="utf-8")
