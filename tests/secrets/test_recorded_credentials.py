"""`record` and `import` never keep a credential: custom auth headers (by name) and signature-like
query values (`sig=`) are left out of the scenario, and their values appear nowhere in its text."""

from __future__ import annotations

import json

import pytest

from conformance.recording.compiler import build_scenario
from conformance.recording.observed import Observed

BASE = "http://127.0.0.1:9999/v2"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
CUSTOM = "Custom-Auth-Jt5Wy2Pe7Qa"
SIGNATURE = "Sig-Vb3Nc8Kd1Fs6Hx"


def observed(target: str, headers: list[tuple[str, str]]) -> Observed:
    answer = {"schemas": [LIST], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []}
    return Observed(method="GET", target=target, request_headers=[("Accept", "application/scim+json"), *headers],
                    request_body=b"", status=200, response_headers=[("Content-Type", "application/scim+json")],
                    response_body=json.dumps(answer).encode())


@pytest.mark.parametrize("header", ["X-Custom-Auth", "X-Session-Token", "X-Signature", "Ocp-Apim-Subscription-Key"])
def test_a_custom_credential_header_is_not_kept(header):
    recording = build_scenario([observed("/v2/Users?count=5", [(header, CUSTOM), ("X-Request-Id", "r-1")])],
                               base_url=BASE, scenario_id="recorded-secrets")
    assert CUSTOM not in recording.text and header not in recording.text
    assert "X-Request-Id" in recording.text  # an ordinary header is replayed: the name check is what drops it


@pytest.mark.parametrize("name", ["sig", "signature", "X-Amz-Signature", "code", "key"])
def test_a_signature_like_query_value_is_left_out_and_said_so(name):
    recording = build_scenario([observed(f"/v2/Users?count=5&{name}={SIGNATURE}", [])],
                               base_url=BASE, scenario_id="recorded-secrets")
    assert SIGNATURE not in recording.text
    assert "count: '5'" in recording.text or 'count: "5"' in recording.text or "count: 5" in recording.text
    assert recording.notes == [f"step 1: query parameter(s) {name!r} left out: they carry a secret"]
