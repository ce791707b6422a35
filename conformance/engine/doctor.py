"""`scim-conformance doctor --target ...`: the first thing to run when nothing works.

It checks, in order, what a failing run would otherwise show as twenty unrelated failures:
reachability (DNS, connection, TLS), whether the base URL is a SCIM endpoint at all, whether
authentication works with the token and is enforced without it, and what the server advertises
in /ServiceProviderConfig; then it suggests the capabilities a target profile should declare.
Each check gives one line: ok, warn or FAIL, with what to do. Nothing is created on the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance.engine.exchange import Exchange
from conformance.engine.profiles import TargetProfile
from conformance.engine.transport import Transport

__all__ = ["Finding", "diagnose", "suggested_capabilities"]

SCIM_ACCEPT = {"Accept": "application/scim+json"}


@dataclass(frozen=True)
class Finding:
    level: str  # "ok", "warn", "FAIL"
    check: str
    detail: str


def _is_list_response(exchange: Exchange) -> bool:
    received = exchange.received
    return received is not None and isinstance(received.json, dict) and "totalResults" in received.json


def _kind(exchange: Exchange) -> str:
    received = exchange.received
    if received is None:
        return f"no answer ({exchange.error})"
    if received.json_problem:
        return f"{received.status}, {received.json_problem}"
    if received.json is None or not isinstance(received.json, dict | list):
        kind = received.media_type or "no Content-Type"
        return f"{received.status}, not JSON ({kind})"
    return f"{received.status} {received.reason}".strip()


def suggested_capabilities(config: Any) -> dict[str, bool]:
    """Capabilities a profile should declare, from what /ServiceProviderConfig advertises."""
    def supported(key: str) -> bool:
        value = config.get(key) if isinstance(config, dict) else None
        return bool(isinstance(value, dict) and value.get("supported") is True)

    return {"patch": supported("patch"), "bulk": supported("bulk"), "filter": supported("filter"),
            "sort": supported("sort"), "etag": supported("etag"), "change_password": supported("changePassword")}


def diagnose(target: TargetProfile, transport: Transport, anonymous: Transport, has_token: bool) -> list[Finding]:
    """Every finding, in order; the list stops early where later checks cannot mean anything."""
    findings: list[Finding] = []
    probe = transport.send("GET", "/Users", query={"count": 1, "startIndex": 1}, headers=SCIM_ACCEPT)
    if probe.received is None:
        findings.append(Finding("FAIL", "reachable", f"no answer from {target.base_url}: {probe.error}"))
        return findings
    findings.append(Finding("ok", "reachable", f"{target.base_url} answers ({probe.received.elapsed_ms:.0f} ms)"))
    if str(target.base_url).startswith("https://"):
        verify = "verified" if target.verify_tls else "NOT verified (tls.verify: false or --insecure)"
        findings.append(Finding("ok" if target.verify_tls else "warn", "tls", f"certificate {verify}"))

    status = probe.received.status
    if status in (401, 403):
        if not has_token:
            findings.append(Finding("FAIL", "auth", f"GET /Users answered {status} and ${target.token_env} is not "
                                    "set: export the bearer token in that variable"))
        else:
            findings.append(Finding("FAIL", "auth", f"GET /Users answered {status} with the token from "
                                    f"${target.token_env}: the token is wrong, expired or lacks the scope for "
                                    "/Users (check it, and that the header is `Authorization: Bearer <token>`)"))
        _discovery(findings, anonymous, target)
        return findings
    if status == 404 or not _is_list_response(probe):
        hint = ("the server's answer is broken, whatever the base URL" if probe.received.json_problem else
                "the base URL looks wrong (it must include the SCIM base path, e.g. https://host/scim/v2)")
        findings.append(Finding("FAIL", "scim endpoint",
                                f"GET {target.base_url}/Users answered {_kind(probe)}: {hint}"))
        return findings
    findings.append(Finding("ok", "scim endpoint", "GET /Users answers a ListResponse"))
    findings.append(Finding("ok" if has_token else "warn", "auth",
                            "the token is accepted" if has_token else
                            f"no token (${target.token_env} is unset) and /Users answered anyway"))

    unauthenticated = anonymous.send("GET", "/Users", query={"count": 1}, headers=SCIM_ACCEPT)
    received = unauthenticated.received
    if received is not None and received.status in (401, 403):
        findings.append(Finding("ok", "auth enforced", f"without a token /Users answers {received.status}"))
    elif target.auth_type != "none":
        findings.append(Finding("FAIL", "auth enforced", f"without a token /Users answers {_kind(unauthenticated)}: "
                                "the server does not check authentication"))
    _discovery(findings, transport, target)
    return findings


def _discovery(findings: list[Finding], transport: Transport, target: TargetProfile) -> None:
    answer = transport.send("GET", "/ServiceProviderConfig", headers=SCIM_ACCEPT)
    received = answer.received
    if received is None or received.status != 200 or not isinstance(received.json, dict):
        findings.append(Finding("warn", "discovery", f"GET /ServiceProviderConfig answered {_kind(answer)}"))
        return
    advertised = suggested_capabilities(received.json)
    shown = ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in advertised.items())
    findings.append(Finding("ok", "discovery", f"/ServiceProviderConfig advertises {shown}"))
    differs = {k: v for k, v in advertised.items() if (k in target.capabilities) != v}
    if differs:
        lines = ", ".join(f"{k}: {'true' if v else 'false'}" for k, v in differs.items())
        findings.append(Finding("warn", "profile", f"the target profile should declare capabilities: {{{lines}}} "
                                "(or the server advertises what it does not do)"))
    else:
        findings.append(Finding("ok", "profile", "the profile's capabilities agree with what the server advertises"))
