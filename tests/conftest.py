"""Fixtures shared by the integration and fault tests: a real SCIM server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from conformance.engine.embedded import EmbeddedServer, start_embedded, stop_embedded
from tests.support.runs import DISTINCTIVE_TOKEN


@pytest.fixture(scope="session")
def scim_server() -> Iterator[EmbeddedServer]:
    """scim2-server on 127.0.0.1, requiring the distinctive token; stopped after the session."""
    server = start_embedded(DISTINCTIVE_TOKEN)
    try:
        yield server
    finally:
        stop_embedded(server)


@pytest.fixture
def scim_client(scim_server: EmbeddedServer) -> Iterator[httpx.Client]:
    """A plain client on the server, for arranging and inspecting state around a run."""
    with httpx.Client(
        base_url=scim_server.base_url + "/",
        headers={"Authorization": f"Bearer {DISTINCTIVE_TOKEN}", "Content-Type": "application/scim+json"},
        timeout=10,
    ) as client:
        yield client
