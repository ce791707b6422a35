"""Certificates: what a vendor hands a customer as proof that their server passed.

`certify` turns a run of the shipped scenarios into a JSON certificate: tool version, the digest
of the scenario set (shipped scenarios and IdP profiles), the target URL and what it advertises
in /ServiceProviderConfig, each IdP's results and certification level, and the date, plus a
Markdown page for people. `verify` checks that a certificate is the one that was written (its
own digest) and that it was made with the scenario set of the installed version.

The digests make edits and mismatched scenario sets visible; they are not a signature: whoever
can run the tool can produce a certificate. Publish the certificate together with the report.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance.engine.paths import shipped_dir
from conformance.reporting.matrix import Matrix, read_results

__all__ = ["FORMAT", "build_certificate", "certify_paths", "scenario_set_digest", "to_markdown",
           "verify_certificate"]

FORMAT = "scim-conformance-certificate/1"


def scenario_set_digest(scenarios_dir: Path, profiles_dir: Path) -> tuple[str, int]:
    """sha256 over every shipped scenario, shared-step and IdP profile file (path and bytes)."""
    files = sorted([*scenarios_dir.rglob("*.yaml"), *(profiles_dir / "idp").glob("*.yaml")])
    digest = hashlib.sha256()
    for path in files:
        base = scenarios_dir if path.is_relative_to(scenarios_dir) else profiles_dir
        digest.update(f"{base.name}/{path.relative_to(base).as_posix()}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).hexdigest().encode() + b"\n")
    return f"sha256:{digest.hexdigest()}", len(files)


def _content_digest(certificate: dict[str, Any]) -> str:
    body = {k: v for k, v in certificate.items() if k != "digest"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"sha256:{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def _environment(results_dir: Path) -> dict[str, str]:
    path = results_dir / "environment.properties"
    values: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.replace("\\:", ":").replace("\\=", "=")] = value
    return values


def build_certificate(results_dir: Path, scenario_set: tuple[str, int], idps: list[str]) -> dict[str, Any]:
    """The certificate of the run whose Allure results are in `results_dir`."""
    matrix = Matrix(tuple(o for o in read_results(results_dir) if o.idp in idps))
    env = _environment(results_dir)
    prefix = "serviceProviderConfig."
    results = []
    for idp in idps:
        certification = matrix.certification(idp)
        results.append({
            "idp": idp, "name": certification.name, "level": certification.level,
            "passed": certification.passed, "ran": certification.ran,
            "mustNotPassed": list(certification.must_not_passed), "mustSkipped": list(certification.must_skipped),
            "shouldFailed": list(certification.should_failed),
            "scenarios": {o.scenario: o.status for o in matrix.outcomes if o.idp == idp},
        })
    certificate: dict[str, Any] = {
        "format": FORMAT,
        "tool": {"name": "scim-conformance", "version": __version__},
        "scenarioSet": {"digest": scenario_set[0], "files": scenario_set[1]},
        "target": {
            "url": env.get("target"), "profile": env.get("target.profile"),
            "serviceProviderConfig": {k.removeprefix(prefix): v for k, v in env.items() if k.startswith(prefix)},
        },
        "date": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "results": results,
    }
    certificate["digest"] = _content_digest(certificate)
    return certificate


def verify_certificate(certificate: Any, installed_set: tuple[str, int]) -> list[str]:
    """What is wrong with a certificate; [] when it verifies."""
    if not isinstance(certificate, dict) or certificate.get("format") != FORMAT:
        return [f"not a scim-conformance certificate (format must be {FORMAT!r})"]
    problems = []
    if certificate.get("digest") != _content_digest(certificate):
        problems.append("the certificate was changed after it was written (its digest does not match its content)")
    recorded = (certificate.get("scenarioSet") or {}).get("digest")
    if recorded != installed_set[0]:
        version = (certificate.get("tool") or {}).get("version")
        problems.append(f"it was made with another scenario set (scim-conformance {version}, {recorded}); "
                        f"the installed one ({__version__}) is {installed_set[0]}")
    return problems


def to_markdown(certificate: dict[str, Any]) -> str:
    target = certificate["target"]
    lines = [
        "# SCIM conformance certificate", "",
        f"- Target: `{target.get('url')}` (profile `{target.get('profile')}`)",
        f"- Date: {certificate['date']}",
        f"- Tool: scim-conformance {certificate['tool']['version']}, scenario set "
        f"`{certificate['scenarioSet']['digest']}` ({certificate['scenarioSet']['files']} files)",
        f"- Certificate digest: `{certificate['digest']}` (check it with `scim-conformance verify`)", "",
        "| IdP | Level | Passed | Must not passed | Should failed |", "|---|---|---|---|---|",
    ]
    for result in certificate["results"]:
        lines.append(f"| {result['name']} (`{result['idp']}`) | {result['level']} | {result['passed']}/{result['ran']} "
                     f"| {', '.join(result['mustNotPassed']) or '-'} | {', '.join(result['shouldFailed']) or '-'} |")
    advertised = target.get("serviceProviderConfig") or {}
    if advertised:
        lines += ["", "What the server advertises (/ServiceProviderConfig):", ""]
        lines += [f"- `{key}`: {value}" for key, value in sorted(advertised.items())]
    return "\n".join(lines) + "\n"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write(certificate: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(certificate, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    page = path.with_suffix(".md")
    page.write_text(to_markdown(certificate), encoding="utf-8")
    return page


def certify_paths() -> tuple[Path, Path]:
    """The shipped scenarios and profiles folders (a certificate covers only the shipped set)."""
    scenarios, profiles = shipped_dir("scenarios"), shipped_dir("profiles")
    if scenarios is None or profiles is None:
        raise FileNotFoundError("the shipped scenarios/profiles are missing from this installation")
    return scenarios, profiles
