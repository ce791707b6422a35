"""Observed HTTP exchanges -> a scenario file. Shared by `scim-conformance record` and `import`.

The input is what passed between an IdP and a SCIM server, request by request (`Observed`). The
output is a scenario (`*.scenario.yaml` text) that replays those requests in order and expects
what the server answered then:

* each request becomes a step with method, path, query, headers and JSON body as they were sent,
  and `expect: {status: <observed>}`, plus `headers` (content type, Location, ETag present),
  `schema` (when the answer is a valid SCIM message of a known kind) and `json` (the answer's
  stable values: no meta timestamps, no `$ref` URLs, no server-generated value that is not
  captured yet, no lists whose content depends on what else is on the server);
* values the server generated (resource ids, ETags) become captures at the step that first
  returned them (`capture: {user_1_id: body.id}`) and references (`${user_1_id}`) in every later
  step, in paths, query values, headers, bodies and expectations;
* personal data (userName, emails, names, displayName, nickName, externalId, phone numbers,
  street addresses) is replaced by generated values: `vars: {user_1: "${fake.user()}"}` and
  `${user_1.userName}`, consistently across requests and answers (unless `keep_values`);
* secrets are never written: Authorization, Cookie and the other headers `conformance.engine.redact`
  knows are dropped (the harness adds its own Authorization), passwords and tokens in bodies
  become generated passwords (`${user_1.password}`), query parameters with secret names are left
  out, and the finished text is scanned for every secret value seen before it is returned.

The harness's engine decides what can be replayed: only GET, POST, PUT, PATCH and DELETE, JSON
bodies, and one value per query parameter. Anything else is left out and said so.

This module runs the steps in order; the work is done by `analysis` (pass 1: who is who),
`templater` and `steps` (pass 2: the steps), reading the traffic through `traffic`.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

from conformance.engine.redact import MIN_LEARNT_LENGTH, Redactor, is_sensitive_header, is_sensitive_query_name
from conformance.recording.analysis import Analysis, Person
from conformance.recording.observed import Observed, Recording, RecordingError, Replayable
from conformance.recording.steps import step_for
from conformance.recording.templater import Templater
from conformance.recording.traffic import ENTERPRISE_USER, collection_of

__all__ = ["build_scenario", "scenario_id_for"]

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def build_scenario(
    exchanges: list[Observed],
    *,
    base_url: str,
    scenario_id: str,
    idp: str = "recorded",
    keep_values: bool = False,
    title: str | None = None,
    header: list[str] | None = None,
) -> Recording:
    """The scenario text for `exchanges` (in the order they arrived) sent to `base_url`.

    Raises RecordingError when no exchange can be replayed, or when a secret value seen in the
    traffic would end up in the text.
    """
    redactor = Redactor()
    secrets = _header_secrets(exchanges)
    for secret in secrets:
        redactor.add_secret(secret)
    replayable, left_out = _replayable(exchanges, base_url, redactor, secrets)
    analysis = _analyse(replayable, keep_values, redactor, secrets)
    steps, notes = _steps(analysis, replayable)
    document = _document(
        scenario_id=scenario_id, idp=idp, title=title or _title(replayable),
        description=_description(len(exchanges), len(replayable), keep_values, left_out, notes),
        replayable=replayable, persons=[p for e in analysis.entities for p in e.persons if p.used], steps=steps,
    )
    text = _render(document, header or [], redactor)
    _refuse_secrets(text, analysis.secrets, redactor)
    return Recording(text, len(steps), left_out, notes)


def scenario_id_for(out_name: str) -> str:
    """`entra sync.scenario.yaml` -> `recorded-entra-sync`: a valid, readable scenario id."""
    stem = out_name.split("/")[-1]
    for suffix in (".scenario.yaml", ".yaml", ".yml", ".har"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "traffic"
    return slug if slug.startswith("recorded") else f"recorded-{slug}"


# --------------------------------------------------------------------------- the steps of build_scenario


def _header_secrets(exchanges: list[Observed]) -> set[str]:
    """Credential values in request headers: never written, and scanned for in the result."""
    found: set[str] = set()
    for exchange in exchanges:
        for name, value in exchange.request_headers:
            if not is_sensitive_header(name):
                continue
            found.add(value)
            found.add(value.split(" ", 1)[-1].strip())
            if name.lower() == "cookie":
                for cookie in value.split(";"):
                    found.add(cookie.partition("=")[2].strip())
    return {s for s in found if len(s) >= MIN_LEARNT_LENGTH}


def _replayable(exchanges: list[Observed], base_url: str, redactor: Redactor,
                secrets: set[str]) -> tuple[list[Replayable], list[str]]:
    """The exchanges the harness can replay, and one line for each of the others saying why not.

    Secret query values found on the way are added to `secrets` and to `redactor`.
    """
    base = urlsplit(base_url)
    base_path = base.path.rstrip("/")
    base_query = {piece for piece in base.query.split("&") if piece}
    replayable: list[Replayable] = []
    left_out: list[str] = []
    for number, exchange in enumerate(exchanges, 1):
        path, raw_query = _split_target(exchange.target)
        why_not = _why_not_replayed(exchange, path, base_path)
        if why_not:
            left_out.append(f"#{number} {exchange.method} {redactor.text(path)}: {why_not}")
            continue
        flags, query, dropped = _split_query(raw_query, base_query, redactor, secrets)
        rel_path = path[len(base_path):] or "/"
        replayable.append(Replayable(len(replayable), exchange, rel_path, flags, query, dropped))
    if not replayable:
        raise RecordingError("no request can be replayed: " + ("; ".join(left_out) or "nothing was recorded"))
    return replayable, left_out


def _split_target(target: str) -> tuple[str, str]:
    """A request target (origin or absolute form) as (path, query)."""
    if target.startswith(("http://", "https://")):
        parts = urlsplit(target)
        return parts.path or "/", parts.query
    path, _, query = target.partition("?")
    return path or "/", query


def _why_not_replayed(exchange: Observed, path: str, base_path: str) -> str | None:
    """Why the harness cannot replay this exchange, or None when it can."""
    if exchange.method not in _METHODS:
        return f"the harness sends only {', '.join(_METHODS)}"
    if exchange.status == 429:
        return "429 Too Many Requests (the harness retries a 429 by itself)"
    if base_path and not (path == base_path or path.startswith(base_path + "/")):
        return f"outside the target's base path {base_path}"
    return None


def _split_query(raw_query: str, base_query: set[str], redactor: Redactor,
                 secrets: set[str]) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """(flags without "=", parameters to replay, names left out because they carry a secret)."""
    flags: list[str] = []
    query: list[tuple[str, str]] = []
    dropped: list[str] = []
    for piece in (p for p in raw_query.split("&") if p):
        if piece in base_query:
            continue  # the target's own query (?aadOptscim062020) goes on every request anyway
        if "=" not in piece:
            flags.append(piece)
            continue
        name, value = next(iter(parse_qsl(piece, keep_blank_values=True)), (piece, ""))
        if is_sensitive_query_name(name) or redactor.mask(value) != value:
            dropped.append(name)
            if len(value) >= MIN_LEARNT_LENGTH:
                secrets.add(value)
                redactor.add_secret(value)
            continue
        query.append((name, value))
    return flags, query, dropped


def _analyse(replayable: list[Replayable], keep_values: bool, redactor: Redactor, secrets: set[str]) -> Analysis:
    """Pass 1 over every exchange in order; every secret it knows of is then known to `redactor`."""
    analysis = Analysis(keep_values, redactor)
    for item in replayable:
        creates = analysis.request(item.index, item.exchange, item.rel_path, item.query)
        analysis.response(item.index, item.exchange, item.rel_path, creates)
    analysis.secrets |= secrets
    for secret in analysis.secrets:
        redactor.add_secret(secret)
    return analysis


def _steps(analysis: Analysis, replayable: list[Replayable]) -> tuple[list[dict[str, Any]], list[str]]:
    """Pass 2: one step per exchange, with the captures later steps use; and the notes for a replay."""
    templater = Templater(analysis)
    notes: list[str] = []
    steps = [step_for(templater, item, notes) for item in replayable]
    for found in analysis.generated.values():
        if found.name is not None:
            steps[found.step].setdefault("capture", {})[found.name] = found.expression
    for step in steps:  # keys in reading order: capture after expect
        if "capture" in step:
            step["capture"] = step.pop("capture")
    if analysis.external_ids:
        notes.append(f"{len(analysis.external_ids)} id(s) were used before the recording saw the server "
                     "return them; they are kept as recorded, so those steps replay only where the "
                     "resources still exist")
    return steps, notes


def _document(*, scenario_id: str, idp: str, title: str, description: str, replayable: list[Replayable],
              persons: list[Person], steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The scenario as data, keys in the order a reader expects them."""
    document: dict[str, Any] = {
        "id": scenario_id,
        "title": title,
        "description": description,
        "idps": [idp],
        "tags": ["recording"],
        "requires": _requires(replayable),
        "level": "should",
    }
    if not document["requires"]:
        del document["requires"]
    if persons:
        document["vars"] = {p.var: "${fake.user()}" if p.kind == "user" else "${fake.group()}" for p in persons}
    document["steps"] = steps
    return document


def _render(document: dict[str, Any], header: list[str], redactor: Redactor) -> str:
    """The scenario file's text: the header as comments, then the document as YAML."""
    text = "".join(f"# {redactor.text(line)}\n" for line in header)
    text += yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
                      default_flow_style=False)
    if yaml.safe_load(text) != document:  # pragma: no cover - a PyYAML quoting surprise
        raise RecordingError("the scenario does not read back as written (YAML quoting)")
    return text


def _refuse_secrets(text: str, secrets: set[str], redactor: Redactor) -> None:
    """The last guard: RecordingError if a secret seen in the traffic, or a credential, is in `text`."""
    for secret in secrets:
        if len(secret) >= MIN_LEARNT_LENGTH and secret in text:
            raise RecordingError("a secret value would be written to the scenario; nothing was written")
    if redactor.mask(text) != text:
        raise RecordingError("something that looks like a credential would be written; nothing was written")


class _Dumper(yaml.SafeDumper):
    """Safe YAML, with multi-line strings (the description) as readable `|` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value.rstrip("\n") and not any(line != line.rstrip() for line in value.split("\n")):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_str(value)


_Dumper.add_representer(str, _represent_str)


# --------------------------------------------------------------------------- what the document says


def _requires(replayable: list[Replayable]) -> list[str]:
    """Capabilities the traffic used (only those a target has unless its profile says otherwise)."""
    needed: list[str] = []

    def need(name: str) -> None:
        if name not in needed:
            needed.append(name)

    for item in replayable:
        collection, resource_id = collection_of(item.rel_path)
        method = item.exchange.method
        if collection == "users":
            need("users")
        if collection == "groups":
            need("groups")
        if method == "PATCH":
            need("patch")
        if any(name.lower() == "filter" for name, _ in item.query):
            need("filter")
        if method == "DELETE" and resource_id and collection in ("users", "groups"):
            need("delete_users" if collection == "users" else "delete_groups")
        if ENTERPRISE_USER in item.exchange.request_body.decode("utf-8", "replace").lower():
            need("enterprise_user")
    return needed


def _title(replayable: list[Replayable]) -> str:
    """The default title: how many requests of each method."""
    methods = Counter(item.exchange.method for item in replayable)
    shown = ", ".join(f"{count} {method}" for method, count in methods.most_common())
    return f"Recorded traffic replayed request by request ({shown})"


def _description(seen: int, kept: int, keep_values: bool, left_out: list[str], notes: list[str]) -> str:
    """What the scenario replays, what it changed on the way, and what it left out."""
    lines = [
        f"{kept} of {seen} recorded request(s), replayed in the order they arrived; each step expects "
        "the status (and the stable parts of the answer) the target gave then.",
        "Ids and ETags the server generated are captured where they first came back and referenced after.",
        "Personal values were kept as recorded (--keep-values)." if keep_values else
        "Personal data (userName, emails, names, displayName, externalId, phone numbers, addresses) is "
        "replaced by generated values.",
        "Authorization, cookies, passwords and tokens were not written; the harness sends its own Authorization.",
    ]
    lines += [f"Left out: {line}" for line in left_out]
    lines += [f"Note: {line}" for line in notes]
    return "\n".join(lines) + "\n"
