"""The one way this package builds an HTTP client for a SCIM server: TLS, timeouts, proxies, redirects.

The transport of a run and the embedded server's start-up probe both talk to a SCIM server, and
both want the same rules: redirects are answers to show, never to follow (the token must not
travel to another host); a plain-HTTP base URL needs no certificate store; proxies come from the
environment unless the server is a local child process; every connection pool, direct or through
a proxy, honours the deadline of an exchange (`conformance.engine.deadline`).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from conformance.engine.deadline import bound_pools
from conformance.engine.errors import HarnessError
from conformance.engine.scenario.target_checks import ca_bundle_problem

if TYPE_CHECKING:
    from conformance.engine.profiles import TargetProfile

__all__ = ["http_client", "target_client", "tls_context"]


def tls_context(base_url: str, verify: bool | str = True) -> ssl.SSLContext:
    """The TLS context for requests under `base_url`; every client of a SCIM server uses this one.

    `verify`: check the server's certificate against the CA bundle httpx ships (True, or the
    file SSL_CERT_FILE names), against this CA bundle file or folder (a path), or not at all
    (False).
    """
    if urlsplit(base_url).scheme.lower() == "http":
        # Plain HTTP: no request under this base URL uses TLS, redirects being never followed.
        # Loading the CA bundle into a context takes 20 to 40 ms; one that trusts no certificate
        # takes none, and would refuse any certificate rather than accept one.
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if isinstance(verify, str):
        if Path(verify).is_dir():
            return ssl.create_default_context(capath=verify)
        try:
            return ssl.create_default_context(cafile=verify)
        except (OSError, ValueError):  # ssl.SSLError is an OSError: not PEM, missing, unreadable
            raise HarnessError(f"tls.ca_bundle: {ca_bundle_problem(verify)}") from None
    return httpx.create_ssl_context(verify=verify)


def http_client(
    base_url: str,
    *,
    verify: bool | str = True,
    connect_timeout: float = 10.0,
    read_timeout: float = 30.0,
    headers: Mapping[str, str] | None = None,
    proxies_from_env: bool = True,
) -> httpx.Client:
    """A client for requests under `base_url`, which never follows a redirect.

    `verify`: check the server's certificate (True), with this CA bundle file (a path), or not
    at all (False). `proxies_from_env=False` ignores HTTP(S)_PROXY and NO_PROXY, for a server
    on 127.0.0.1 that a proxy cannot reach.
    """
    client = httpx.Client(
        verify=tls_context(base_url, verify),
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
        follow_redirects=False,  # a redirect is an answer worth seeing, not following
        headers=dict(headers) if headers else None,
        trust_env=proxies_from_env,
    )
    # The client's own transport and one per proxy the environment names (None: no proxy there).
    bound_pools([client._transport, *(t for t in client._mounts.values() if t is not None)])
    return client


def target_client(target: TargetProfile, *, headers: Mapping[str, str] | None = None) -> httpx.Client:
    """A client with the TLS and timeout settings of a target profile (which has a base URL)."""
    if not target.base_url:
        raise ValueError("target has no base URL")
    return http_client(target.base_url, verify=target.verify_tls, connect_timeout=target.connect_timeout,
                       read_timeout=target.read_timeout, headers=headers)
