"""IdP profiles (how a client talks) and target profiles (where it talks to, with what rights).

An `IdpProfile` holds what an identity provider does the same way in every scenario: the
headers it sends and named request templates (body shapes, PATCH style). A `TargetProfile`
holds the base URL, auth, TLS, timeouts and capabilities of a SCIM server. Tokens never live
in files: a profile names the environment variable that holds one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from conformance.engine.errors import HarnessError, Problem, ScenarioFileError
from conformance.engine.scenario.builtins import builtin_misuse
from conformance.engine.scenario.model import BUILTIN_KEYS, BUILTIN_NAMES, Request
from conformance.engine.scenario.target_checks import target_problems, url_problem
from conformance.engine.scenario.validation import schema_problems, validator
from conformance.engine.scenario.yamlsrc import YamlDocument, load_yaml, strings_with_pointers
from conformance.engine.templating import TemplateError, referenced_names

__all__ = [
    "CAPABILITIES",
    "DEFAULT_CAPABILITIES",
    "IdpProfile",
    "TargetProfile",
    "load_idp_profiles",
    "request_from_mapping",
    "resolve_target",
    "resolve_target_from_cwd",
]

# One list of capability names: the scenario schema's enum, which `requires:` is checked against.
CAPABILITIES: tuple[str, ...] = tuple(validator("scenario").schema["$defs"]["capability"]["enum"])
# What a bare URL target is assumed to support: the core every IdP needs. Anything optional
# (etag, sort, bulk, ...) must be declared in a target profile.
DEFAULT_CAPABILITIES = frozenset(
    {"users", "groups", "patch", "filter", "delete_users", "delete_groups", "enterprise_user"}
)
# The steps of one scenario, whatever the target does (timeouts.scenario, --scim-scenario-timeout).
DEFAULT_SCENARIO_TIMEOUT = 300.0


@dataclass(frozen=True)
class IdpProfile:
    """How one identity provider talks to every SCIM server."""

    id: str
    name: str
    path: Path
    headers: dict[str, str]
    body_headers: dict[str, str]
    requests: dict[str, Request]
    request_origins: dict[str, str]  # template name -> "file:line" where it is written
    request_names: dict[str, set[str]]  # template name -> the names it declares in `needs:` (what it reads)
    description: str = ""
    refs: tuple[str, ...] = ()
    reactions: dict[int, str] = field(default_factory=dict)  # status -> what the IdP does then
    # The IdP a variant belongs to ("Okta" for okta-aiw): the name of the profile it extends, at
    # the root. Reports group every variant's scenarios under it.
    family: str = ""

    def resolve(self, request: Request) -> Request:
        """A step's request with this profile's template (`request: {idp: name}`) merged under its keys."""
        if not request.idp:
            return request
        base = self.requests[request.idp]
        return Request(
            idp=request.idp,
            method=request.method or base.method,
            path=request.path or base.path,
            query={**(base.query or {}), **(request.query or {})} or None,
            headers={**(base.headers or {}), **(request.headers or {})} or None,
            body=request.body if request.has_body else base.body,
            has_body=request.has_body or base.has_body,
            auth=request.auth if request.auth != "default" else base.auth,
        )


@dataclass(frozen=True)
class TargetProfile:
    """A SCIM server under test."""

    id: str
    base_url: str | None
    token_env: str = "SCIM_TOKEN"
    auth_type: str = "bearer"
    verify_tls: bool | str = True
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    # One exchange, connect to the last byte of the body (None: connect + 2 x read); one scenario's
    # steps (its cleanup has a budget of its own: cleanup_budget).
    exchange_timeout: float | None = None
    scenario_timeout: float = DEFAULT_SCENARIO_TIMEOUT
    capabilities: frozenset[str] = DEFAULT_CAPABILITIES
    email_domain: str = "example.com"
    embedded: bool = False
    name: str = ""
    path: Path | None = None
    # scenario id or "id[idp]" -> why this server is known to fail it (reported as xfail)
    expected_failures: dict[str, str] = field(default_factory=dict)

    def token(self) -> str | None:
        """The bearer token from the environment, or None when auth is off or it is unset."""
        if self.auth_type == "none":
            return None
        return os.environ.get(self.token_env) or None

    @property
    def exchange_deadline(self) -> float:
        """Seconds one exchange may take in all: connect, request, status line, headers and body."""
        return self.exchange_timeout or self.connect_timeout + 2 * self.read_timeout

    def cleanup_budget(self, resources: int) -> float:
        """Seconds the cleanup of `resources` resources may take: two exchanges, plus 2 s for each."""
        return 2 * self.exchange_deadline + 2.0 * resources

    def known_failure(self, scenario_id: str, idp_id: str) -> str | None:
        """Why this target is known to fail the scenario for that IdP, if the profile says so."""
        return self.expected_failures.get(f"{scenario_id}[{idp_id}]") or self.expected_failures.get(scenario_id)


# The embedded scim2-server when neither the profiles folder nor the shipped profiles have
# targets/embedded.yaml (which also lists its known deviations). Capabilities that describe a
# limit (filter_eq_only) or a policy scim2-server does not have are left out.
EMBEDDED_TARGET = TargetProfile(
    id="embedded", name="scim2-server (embedded)", base_url=None, embedded=True,
    capabilities=frozenset(CAPABILITIES)
    - {"links_by_email", "unique_emails", "unique_external_id", "filter_eq_only", "filter_too_many"},
)


def request_from_mapping(data: dict[str, Any]) -> Request:
    return Request(
        idp=data.get("idp"),
        method=data.get("method"),
        path=data.get("path"),
        query=data.get("query"),
        headers=data.get("headers"),
        body=data.get("body"),
        has_body="body" in data,
        auth=data.get("auth", "default"),
    )


def _read_idp(path: Path) -> YamlDocument:
    document = load_yaml(path)
    problems = schema_problems(document, "idp")
    if problems:
        raise ScenarioFileError(problems)
    if document.data["id"] != path.name.removesuffix(".yaml"):
        raise ScenarioFileError([document.source.problem(
            ("id",), f"id {document.data['id']!r} must match the file name {path.name!r}")])
    return document


def _needs_problems(key: str, template: dict[str, Any], document: YamlDocument) -> list[Problem]:
    """A template's `needs:` against the names its templates read: each read name declared, each declared one read.

    The declaration is what a scenario author reads to know what to define before `request: {idp: key}`;
    the check keeps it true. Built-in names (run_id, fake, idp, target) need no declaration.
    """
    pointer = ("requests", key)
    declared = template.get("needs", [])
    problems: list[Problem] = []
    read: set[str] = set()
    for where, text in strings_with_pointers({k: v for k, v in template.items() if k != "needs"}, pointer):
        try:
            names = referenced_names(text)[0]
        except TemplateError as exc:
            problems.append(document.source.problem(where, f"requests.{key}: {exc}"))
            continue
        read |= names
        problems += [document.source.problem(where, f"requests.{key}: {problem}")
                     for problem in builtin_misuse(text, BUILTIN_KEYS)]
        used = names - BUILTIN_NAMES
        problems += [document.source.problem(where, f"requests.{key}: reads {name!r}, which its `needs:` does "
                                             "not declare")
                     for name in sorted(used - set(declared))]
    if not problems:
        problems += [document.source.problem((*pointer, "needs", index), f"requests.{key}: declares {name!r} in "
                                             "`needs:` but never reads it")
                     for index, name in enumerate(declared) if name not in read]
    return problems


def _build_idp(document: YamlDocument, documents: dict[str, YamlDocument], chain: tuple[str, ...] = ()) -> IdpProfile:
    """The profile of `document`, on top of the profile it `extends` (its templates replaced by name)."""
    data = document.data
    base: IdpProfile | None = None
    if "extends" in data:
        parent = data["extends"]
        if parent in (*chain, data["id"]):
            raise ScenarioFileError([document.source.problem(
                ("extends",), f"profiles extend each other in a circle: {' -> '.join((*chain, data['id'], parent))}")])
        if parent not in documents:
            raise ScenarioFileError([document.source.problem(
                ("extends",), f"extends unknown IdP profile {parent!r} (known: {', '.join(sorted(documents))})")])
        base = _build_idp(documents[parent], documents, (*chain, data["id"]))
    problems: list[Problem] = []
    requests = dict(base.requests) if base else {}
    origins = dict(base.request_origins) if base else {}
    names = dict(base.request_names) if base else {}
    for key, value in data.get("requests", {}).items():
        pointer = ("requests", key)
        problems += _needs_problems(key, value, document)
        requests[key] = request_from_mapping(value)
        origins[key] = f"{document.source.path}:{document.source.line_of(pointer)}"
        names[key] = set(value.get("needs", ())) - BUILTIN_NAMES
    if problems:
        raise ScenarioFileError(problems)
    if not requests:
        raise ScenarioFileError([document.source.problem(
            (), "an IdP profile needs requests (or extends one that has)")])
    return IdpProfile(
        id=data["id"],
        name=data.get("name", base.name if base else data["id"]),
        path=document.source.path,
        headers={**(base.headers if base else {}), **data.get("headers", {})},
        body_headers={**(base.body_headers if base else {}), **data.get("body_headers", {})},
        requests=requests,
        request_origins=origins,
        request_names=names,
        description=data.get("description", base.description if base else ""),
        refs=tuple(data.get("refs", base.refs if base else ())),
        family=base.family if base else data.get("name", data["id"]),
        reactions={**(base.reactions if base else {}),
                   **{int(code): text for code, text in data.get("reactions", {}).items()}},
    )


def load_idp_profiles(profiles_dir: Path) -> dict[str, IdpProfile]:
    """Every IdP profile in `profiles_dir/idp`, by id; all file problems are raised at once."""
    documents: dict[str, YamlDocument] = {}
    problems: list[Problem] = []
    for path in sorted((profiles_dir / "idp").glob("*.yaml")):
        try:
            document = _read_idp(path)
        except ScenarioFileError as exc:
            problems.extend(exc.problems)
            continue
        documents[document.data["id"]] = document
    profiles: dict[str, IdpProfile] = {}
    for idp_id, document in documents.items():
        try:
            profiles[idp_id] = _build_idp(document, documents)
        except ScenarioFileError as exc:
            problems.extend(p for p in exc.problems if p not in problems)
    if problems:
        raise ScenarioFileError(problems)
    return profiles


def _target_from_document(document: YamlDocument) -> TargetProfile:
    data = document.data
    auth = data.get("auth", {})
    if isinstance(auth, dict) and "token" in auth:
        raise ScenarioFileError(
            [document.source.problem(("auth", "token"), "tokens are never stored in files: "
                                     "name an environment variable with auth.token_env")]
        )
    problems = schema_problems(document, "target") or target_problems(document)
    if problems:
        raise ScenarioFileError(problems)
    if not data.get("embedded") and not data.get("base_url"):
        raise ScenarioFileError([document.source.problem((), "a target needs base_url (or embedded: true)")])
    tls = data.get("tls", {})
    timeouts = data.get("timeouts", {})
    capabilities = set(DEFAULT_CAPABILITIES)
    for name, enabled in data.get("capabilities", {}).items():
        (capabilities.add if enabled else capabilities.discard)(name)
    return TargetProfile(
        id=data["id"],
        name=data.get("name", data["id"]),
        base_url=data.get("base_url"),
        token_env=auth.get("token_env", "SCIM_TOKEN"),
        auth_type=auth.get("type", "bearer"),
        verify_tls=tls.get("ca_bundle") or tls.get("verify", True),
        connect_timeout=float(timeouts.get("connect", 10.0)),
        read_timeout=float(timeouts.get("read", 30.0)),
        exchange_timeout=float(timeouts["exchange"]) if "exchange" in timeouts else None,
        scenario_timeout=float(timeouts.get("scenario", DEFAULT_SCENARIO_TIMEOUT)),
        capabilities=frozenset(capabilities),
        email_domain=data.get("email_domain", "example.com"),
        embedded=bool(data.get("embedded", False)),
        path=document.source.path,
        expected_failures=dict(data.get("expected_failures") or {}),
    )


def load_target_profile(path: Path) -> TargetProfile:
    return _target_from_document(load_yaml(path))


def resolve_target(spec: str, profiles_dir: Path | None) -> TargetProfile:
    """A target from the command line: a URL, a profile file, or a profile name."""
    if spec.startswith(("http://", "https://")):
        problem = url_problem(spec)
        if problem:
            raise HarnessError(f"--scim-target: {problem}")
        return TargetProfile(id="url", name=spec, base_url=spec)
    candidate = Path(spec)
    if spec == "embedded" and not (profiles_dir and (profiles_dir / "targets" / "embedded.yaml").is_file()):
        from conformance.engine.paths import shipped_dir

        shipped = shipped_dir("profiles")
        profile = shipped / "targets" / "embedded.yaml" if shipped else None
        return load_target_profile(profile) if profile and profile.is_file() else EMBEDDED_TARGET
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return load_target_profile(candidate)
    # A team's own profiles/targets/ (made by `scim-conformance init`) first, then the shipped ones.
    for folder in (Path.cwd() / "profiles", profiles_dir):
        named = folder / "targets" / f"{spec}.yaml" if folder is not None else None
        if named is not None and named.is_file():
            return load_target_profile(named)
    known = sorted(p.stem for p in (profiles_dir / "targets").glob("*.yaml")) if profiles_dir else []
    raise HarnessError(
        f"--scim-target {spec!r} is neither a URL, a profile file, nor a profile name"
        + (f" (known profiles: {', '.join(known)})" if known else "")
    )


def resolve_target_from_cwd(spec: str) -> tuple[TargetProfile, Path | None]:
    """`--target` as the commands take it, with the profiles found from the working directory.

    Returns the target and the profiles folder (None when there is none); raises HarnessError.
    """
    from conformance.engine.paths import find_profiles_dir

    try:
        profiles_dir: Path | None = find_profiles_dir()
    except HarnessError:
        profiles_dir = None
    return resolve_target(spec, profiles_dir), profiles_dir


def with_base_url(target: TargetProfile, base_url: str) -> TargetProfile:
    """The same target, pointed at a concrete URL (used once the embedded server is up)."""
    return replace(target, base_url=base_url)
