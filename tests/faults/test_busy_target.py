"""Scenarios that page through a whole collection give the same verdict on a busy server.

A `BusyNeighbour` (another client) creates and deletes users and groups on the real embedded
server between the pages the run reads, as a second run or a live IdP would. The run must pass
on a correct server all the same (RFC 7644 §3.4.2.4: results may change between requests), and
must still fail a server whose paging is broken while the neighbour writes.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from conformance.engine.embedded import EmbeddedServer
from tests.support.busy_neighbour import BusyNeighbour
from tests.support.detection import Expectation, assert_caught, run_with_deviation
from tests.support.deviating_proxy import Deviation, ProxyRequest, ProxyResponse, is_request
from tests.support.deviations_okta import OKTA_DEVIATIONS

OKTA_IMPORT = "scenarios/okta/import-users-and-groups.scenario.yaml"
ENTRA_PAGING = "scenarios/entra/validator-pagination.scenario.yaml"
IMPORT_USERS = '"import users, two per page, until totalResults"'
WRITES = 3  # the neighbour's writes land in the first read; a later read is steady


def _starts_one_late(request: ProxyRequest) -> ProxyRequest:
    # Every page after the first starts one resource too late, yet echoes the startIndex asked
    # for: the shape of each page is right, one resource per page boundary is never returned.
    if is_request(request, "GET", "Users", item=False) and request.query.get("startIndex", ["1"])[0] not in ("0", "1"):
        path = re.sub(r"startIndex=(\d+)", lambda m: f"startIndex={int(m.group(1)) + 1}", request.path)
        return dataclasses.replace(request, path=path)
    return request


def _echo_start_asked(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
    body = response.json()
    asked = request.query.get("startIndex")
    if is_request(request, "GET", "Users", item=False) and isinstance(body, dict) and asked:
        return response.with_json({**body, "startIndex": int(asked[0])})
    return response


STARTS_ONE_LATE = Deviation("paging-starts-one-late", "each page after the first skips one user, echoing the "
                            "startIndex asked for", "RFC 7644 §3.4.2.4 (startIndex is the index of the first "
                            "result)", rewrite_request=_starts_one_late, rewrite_response=_echo_start_asked)


@pytest.mark.parametrize(("scenario", "idp"), [(OKTA_IMPORT, "okta"), (ENTRA_PAGING, "entra")])
def test_a_correct_server_passes_while_another_client_writes_between_the_pages(
    scenario: str, idp: str, scim_server: EmbeddedServer, tmp_path: Path
):
    neighbour = BusyNeighbour(WRITES)
    try:
        result = run_with_deviation(scim_server.base_url, tmp_path, [neighbour.deviation()], scenario, idp)
    finally:
        neighbour.remove_all()
    assert len(neighbour.done) == WRITES and "DELETE" in neighbour.done[-1]  # it did write, both ways
    assert result.code == 0, result.output[-3000:]
    assert "1 passed" in result.output


@pytest.mark.parametrize(("deviation", "words"), [
    (STARTS_ONE_LATE, ("distinct resources", "but totalResults is")),
    (OKTA_DEVIATIONS["paging-zero-based"], ("asked for startIndex=3, the answer says startIndex=2",)),
])
def test_broken_paging_still_fails_while_another_client_writes_between_the_pages(
    deviation: Deviation, words: tuple[str, ...], scim_server: EmbeddedServer, tmp_path: Path
):
    neighbour = BusyNeighbour(WRITES)
    expectation = Expectation(deviation, OKTA_IMPORT, "okta", IMPORT_USERS, words)
    try:
        result = run_with_deviation(scim_server.base_url, tmp_path, [neighbour.deviation(), deviation],
                                    OKTA_IMPORT, "okta")
    finally:
        neighbour.remove_all()
    assert neighbour.done, "the neighbour never wrote: the test shows nothing"
    assert_caught(expectation, result)
