"""Checks of a target profile beyond its schema: what would otherwise fail only once a run starts.

The schema says `base_url` starts with http(s)://, timeouts are numbers above 0 and `ca_bundle` is
a string. A run still stopped with a traceback on `http://[::1` (no closing bracket), on
`read: .inf` or `.nan` (YAML's infinity and not-a-number, which pass "above 0") and on a
`ca_bundle` that is not a PEM file: these are `lint` errors at their line instead. The first two
also stop loading the profile; the CA bundle is only checked by `lint` (and when a run opens an
https:// connection with it), because a profile stays usable with `--insecure` or on a machine
where its bundle lives elsewhere.
"""

from __future__ import annotations

import math
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance.engine.errors import Problem
from conformance.engine.scenario.yamlsrc import YamlDocument

__all__ = ["MAX_TIMEOUT_S", "ca_bundle_problem", "ca_bundle_problems", "target_problems", "url_problem"]

# A day: longer than any IdP waits for an answer, and far from where socket and timer APIs overflow.
MAX_TIMEOUT_S = 86400.0


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a SCIM base URL (unparseable, no host, a bad port), or None."""
    try:
        parts = urlsplit(url)
        port = parts.port  # parsed on access: "host:99999" and "host:x" raise here
    except ValueError as exc:
        return f"{url!r} is not a URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"{url!r} is not an http:// or https:// URL"
    if not parts.hostname:
        return f"{url!r} has no host"
    if port == 0:
        return f"{url!r} has port 0"
    return None


def _timeout_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None  # the schema says what is wrong with it
    if math.isnan(value) or not 0 < value <= MAX_TIMEOUT_S:
        return f"{value} is not a number of seconds above 0 and at most {MAX_TIMEOUT_S:.0f} (a day)"
    return None


def ca_bundle_problem(path: str) -> str | None:
    """Why `path` cannot verify a server (missing, unreadable, not PEM), or None; read as a run reads it."""
    if Path(path).is_dir():
        return None  # a folder of hashed certificates (capath): read one by one at each handshake
    try:
        ssl.create_default_context(cafile=path)
    except FileNotFoundError:
        return f"{path} does not exist (a relative path is read from the working directory)"
    except ssl.SSLError as exc:
        return f"{path} is not a PEM file of CA certificates ({exc.reason or exc})"
    except (OSError, ValueError) as exc:
        return f"{path} cannot be read ({exc.strerror if isinstance(exc, OSError) and exc.strerror else exc})"
    return None


def target_problems(document: YamlDocument) -> list[Problem]:
    """Problems of a target profile that passed its schema, each at its own line (the CA bundle aside)."""
    data = document.data
    source = document.source
    problems: list[Problem] = []
    base_url = data.get("base_url")
    if isinstance(base_url, str) and (problem := url_problem(base_url)):
        problems.append(source.problem(("base_url",), f"base_url: {problem}"))
    for name, value in (data.get("timeouts") or {}).items():
        if problem := _timeout_problem(value):
            problems.append(source.problem(("timeouts", name), f"timeouts.{name}: {problem}"))
    return problems


def ca_bundle_problems(document: YamlDocument) -> list[Problem]:
    """The problem of a target profile's `tls.ca_bundle` as this machine reads it, at its line (for `lint`)."""
    tls = document.data.get("tls") if isinstance(document.data, dict) else None
    bundle = tls.get("ca_bundle") if isinstance(tls, dict) else None
    problem = ca_bundle_problem(bundle) if isinstance(bundle, str) else None
    return [document.source.problem(("tls", "ca_bundle"), f"tls.ca_bundle: {problem}")] if problem else []
