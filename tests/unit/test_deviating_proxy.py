"""The deviating proxy: transparent without deviations, and each catalogue entry does what it says.

Runs against a real scim2-server (the embedded target), behind the proxy.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conformance.engine.embedded import EmbeddedServer
from tests.support.deviating_proxy import (
    CATALOGUE,
    DeviatingProxy,
    Deviation,
    ProxyRequest,
    ProxyResponse,
)
from tests.support.runs import DISTINCTIVE_TOKEN

pytestmark = pytest.mark.timeout(90)

TOKEN = DISTINCTIVE_TOKEN
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@pytest.fixture
def upstream(scim_server: EmbeddedServer) -> EmbeddedServer:
    """The session's embedded scim2-server (tests/conftest.py)."""
    return scim_server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(
        trust_env=False,
        timeout=10.0,
        headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/scim+json"},
    ) as c:
        yield c


def _proxy(upstream: EmbeddedServer, *names: str) -> DeviatingProxy:
    return DeviatingProxy(upstream.base_url, [CATALOGUE[name] for name in names])


def _user(name: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "schemas": [USER_SCHEMA],
        "userName": name or f"user.{uuid.uuid4().hex[:10]}",
        "active": True,
        **extra,
    }


def _create(client: httpx.Client, base: str, **extra: Any) -> dict[str, Any]:
    response = client.post(f"{base}/Users", json=_user(**extra))
    assert response.status_code == 201, response.text
    return response.json()


def _patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


def _filter(user_name: str) -> dict[str, str]:
    return {"filter": f'userName eq "{user_name}"'}


# --------------------------------------------------------------------------- transparency


def test_url_is_a_drop_in_for_the_upstream_base_url(upstream: EmbeddedServer) -> None:
    proxy = DeviatingProxy(upstream.base_url)
    with pytest.raises(RuntimeError):
        _ = proxy.url
    with proxy:
        url = httpx.URL(proxy.url)
        assert url.host == "127.0.0.1"
        assert url.path == "/v2"
        assert url.port != httpx.URL(upstream.base_url).port


def test_without_deviations_the_proxy_is_transparent(
    upstream: EmbeddedServer, client: httpx.Client
) -> None:
    base = upstream.base_url
    with DeviatingProxy(base) as proxy:
        created = client.post(f"{proxy.url}/Users", json=_user())
        assert created.status_code == 201
        user = created.json()
        # the upstream's own host:port, untouched
        assert created.headers["location"] == user["meta"]["location"]
        assert created.headers["location"].startswith(base + "/Users/")
        assert created.headers["content-type"] == "application/scim+json"

        user_path = f"/Users/{user['id']}"
        exchanges: list[tuple[str, str, dict[str, Any]]] = [
            ("GET", user_path, {}),
            ("GET", "/Users", {"params": _filter(user["userName"].upper())}),
            ("GET", "/Users", {"params": {"filter": 'userName eq "nobody"', "count": "5"}}),
            ("GET", "/Users/does-not-exist", {}),
            ("GET", "/ServiceProviderConfig", {}),
            ("GET", "/Schemas", {}),
            ("GET", "/Groups", {}),
            ("POST", "/Users", {"json": {"schemas": [USER_SCHEMA]}}),  # no userName: 400
            ("PATCH", user_path, {"json": _patch({"op": "replace", "path": "nickName", "value": "n"})}),
            ("GET", user_path, {}),
            ("PUT", user_path, {"json": _user(user["userName"], nickName="m")}),
            ("GET", user_path, {}),
        ]
        for method, path, kwargs in exchanges:
            via_proxy = client.request(method, proxy.url + path, **kwargs)
            direct = client.request(method, base + path, **kwargs)
            label = f"{method} {path}"
            assert via_proxy.status_code == direct.status_code, label
            if method == "GET":  # writes change meta.version / lastModified between the two
                assert via_proxy.content == direct.content, label
            assert via_proxy.headers.get("location") == direct.headers.get("location"), label
            assert via_proxy.headers.get("content-type") == direct.headers.get("content-type")
            if method == "GET":
                assert via_proxy.headers.get("etag") == direct.headers.get("etag"), label

        # unauthenticated: same 401, same body, same WWW-Authenticate challenge
        with httpx.Client(trust_env=False, timeout=10.0) as anonymous:
            via_proxy = anonymous.get(f"{proxy.url}/Users")
            direct = anonymous.get(f"{base}/Users")
        assert via_proxy.status_code == direct.status_code == 401
        assert via_proxy.content == direct.content
        assert via_proxy.headers["www-authenticate"] == direct.headers["www-authenticate"]

        deleted = client.delete(f"{proxy.url}{user_path}")
        assert deleted.status_code == 204
        assert deleted.content == b""
        assert client.get(f"{base}{user_path}").status_code == 404

    seen = [(r.method, r.path) for r in proxy.requests_seen]
    assert seen[0] == ("POST", "/v2/Users")
    assert ("GET", "/v2/Users?filter=userName+eq+%22nobody%22&count=5") in seen
    anonymous_seen = [r for r in proxy.requests_seen if "authorization" not in r.headers]
    assert len(anonymous_seen) == 1 and anonymous_seen[0].path == "/v2/Users"


def test_proxy_is_gone_after_exit(upstream: EmbeddedServer) -> None:
    with DeviatingProxy(upstream.base_url) as proxy:
        port = httpx.URL(proxy.url).port
        with httpx.Client(trust_env=False, timeout=5.0) as c:
            assert c.get(f"{proxy.url}/ServiceProviderConfig").status_code == 200
        started = time.monotonic()
    assert time.monotonic() - started < 10
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port or 0), timeout=1):
        pass


def test_unreachable_upstream_answers_502() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    with DeviatingProxy(f"http://127.0.0.1:{dead_port}/v2") as proxy, httpx.Client(
        trust_env=False, timeout=10.0
    ) as c:
        assert c.get(f"{proxy.url}/Users").status_code == 502


def test_a_broken_deviation_answers_500_not_a_hang(upstream: EmbeddedServer) -> None:
    def boom(request: ProxyRequest) -> ProxyRequest:
        raise ValueError("deliberately broken")

    broken = Deviation("broken", "raises", "none", rewrite_request=boom)
    with DeviatingProxy(upstream.base_url, [broken]) as proxy, httpx.Client(
        trust_env=False, timeout=10.0
    ) as c:
        response = c.get(f"{proxy.url}/Users")
    assert response.status_code == 500
    assert b"deliberately broken" in response.content


# --------------------------------------------------------------------------- the catalogue


def test_catalogue_entries_are_well_formed() -> None:
    required = {
        "create-returns-200",
        "create-drops-location",
        "filter-case-sensitive-username",
        "empty-filter-404",
        "patch-capitalised-op-rejected",
        "deactivate-ignored",
        "list-html",
        "error-not-scim",
    }
    assert required <= set(CATALOGUE)
    for key, deviation in CATALOGUE.items():
        assert deviation.name == key
        assert deviation.description and "\n" not in deviation.description
        assert "RFC" in deviation.source or "Entra" in deviation.source or "Okta" in deviation.source
        assert deviation.rewrite_request or deviation.rewrite_response


def test_create_returns_200(upstream: EmbeddedServer, client: httpx.Client) -> None:
    with _proxy(upstream, "create-returns-200") as proxy:
        response = client.post(f"{proxy.url}/Users", json=_user())
        assert response.status_code == 200
        # the user really was created, and the rest of the answer is intact
        assert client.get(response.headers["location"]).status_code == 200
        assert response.json()["meta"]["location"] == response.headers["location"]
        # only /Users creations are affected
        group = client.post(
            f"{proxy.url}/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "g200"}
        )
        assert group.status_code == 201


def test_create_drops_location(upstream: EmbeddedServer, client: httpx.Client) -> None:
    with _proxy(upstream, "create-drops-location") as proxy:
        response = client.post(f"{proxy.url}/Users", json=_user())
        assert response.status_code == 201
        assert "location" not in response.headers
        location = response.json()["meta"]["location"]  # the body still has it
        assert client.get(location).status_code == 200
        # other answers keep their Location
        assert "location" in client.get(location.replace(upstream.base_url, proxy.url)).headers


def test_filter_case_sensitive_username(upstream: EmbeddedServer, client: httpx.Client) -> None:
    name = f"Mixed.Case.{uuid.uuid4().hex[:8]}"
    _create(client, upstream.base_url, name=name)
    # the real server compares userName case-insensitively (RFC 7643 §4.1.1)...
    direct = client.get(f"{upstream.base_url}/Users", params=_filter(name)).json()
    assert direct["totalResults"] == 1
    with _proxy(upstream, "filter-case-sensitive-username") as proxy:
        # ...the deviating one finds nobody when the value has capitals
        response = client.get(f"{proxy.url}/Users", params=_filter(name))
        assert response.status_code == 200
        listing = response.json()
        assert listing["schemas"] == [LIST_SCHEMA]
        assert listing["totalResults"] == 0
        assert listing["Resources"] == []
        # the all-lower-case value still matches the mixed-case user
        lower = client.get(f"{proxy.url}/Users", params=_filter(name.lower())).json()
        assert lower["totalResults"] == 1
        assert lower["Resources"][0]["userName"] == name


def test_empty_filter_404(upstream: EmbeddedServer, client: httpx.Client) -> None:
    user = _create(client, upstream.base_url)
    with _proxy(upstream, "empty-filter-404") as proxy:
        missing = client.get(f"{proxy.url}/Users", params=_filter(f"nobody.{uuid.uuid4().hex}"))
        assert missing.status_code == 404
        error = missing.json()
        assert error["schemas"] == [ERROR_SCHEMA]
        assert error["status"] == "404"
        # a filter that matches, and an unfiltered list, are untouched
        found = client.get(f"{proxy.url}/Users", params=_filter(user["userName"]))
        assert found.status_code == 200 and found.json()["totalResults"] == 1
        assert client.get(f"{proxy.url}/Users").status_code == 200
    # the real server answers 200 + an empty list
    direct = client.get(f"{upstream.base_url}/Users", params=_filter("nobody.at.all"))
    assert direct.status_code == 200 and direct.json()["totalResults"] == 0


def test_patch_capitalised_op_rejected(upstream: EmbeddedServer, client: httpx.Client) -> None:
    user = _create(client, upstream.base_url)
    direct_url = f"{upstream.base_url}/Users/{user['id']}"
    with _proxy(upstream, "patch-capitalised-op-rejected") as proxy:
        url = f"{proxy.url}/Users/{user['id']}"
        capitalised = _patch({"op": "Replace", "path": "nickName", "value": "Entra"})
        rejected = client.patch(url, json=capitalised)
        assert rejected.status_code == 400
        assert rejected.json()["scimType"] == "invalidSyntax"
        assert rejected.json()["schemas"] == [ERROR_SCHEMA]
        assert "nickName" not in client.get(direct_url).json()
        accepted = client.patch(
            url, json=_patch({"op": "replace", "path": "nickName", "value": "okta"})
        )
        assert accepted.status_code in (200, 204)
        assert client.get(direct_url).json()["nickName"] == "okta"
    # the real server accepts the capitalised op
    assert client.patch(direct_url, json=capitalised).status_code in (200, 204)
    assert client.get(direct_url).json()["nickName"] == "Entra"


@pytest.mark.parametrize(
    "operations",
    [
        pytest.param([{"op": "replace", "path": "active", "value": False}], id="okta-path"),
        pytest.param([{"op": "Replace", "path": "active", "value": "False"}], id="entra-string"),
        pytest.param([{"op": "replace", "value": {"active": False}}], id="no-path"),
    ],
)
def test_deactivate_ignored_by_patch(
    upstream: EmbeddedServer, client: httpx.Client, operations: list[dict[str, Any]]
) -> None:
    user = _create(client, upstream.base_url)
    direct_url = f"{upstream.base_url}/Users/{user['id']}"
    with _proxy(upstream, "deactivate-ignored") as proxy:
        response = client.patch(f"{proxy.url}/Users/{user['id']}", json=_patch(*operations))
        assert response.status_code in (200, 204), response.text
    assert client.get(direct_url).json()["active"] is True
    # without the proxy the same request does deactivate
    assert client.patch(direct_url, json=_patch(*operations)).status_code in (200, 204)
    assert client.get(direct_url).json()["active"] is False


def test_deactivate_ignored_keeps_the_other_changes(
    upstream: EmbeddedServer, client: httpx.Client
) -> None:
    user = _create(client, upstream.base_url)
    with _proxy(upstream, "deactivate-ignored") as proxy:
        response = client.patch(
            f"{proxy.url}/Users/{user['id']}",
            json=_patch(
                {"op": "replace", "path": "nickName", "value": "kept"},
                {"op": "replace", "path": "active", "value": False},
                {"op": "replace", "value": {"active": False, "title": "also kept"}},
            ),
        )
        assert response.status_code in (200, 204)
    current = client.get(f"{upstream.base_url}/Users/{user['id']}").json()
    assert current["active"] is True
    assert current["nickName"] == "kept"
    assert current["title"] == "also kept"


def test_deactivate_ignored_by_put(upstream: EmbeddedServer, client: httpx.Client) -> None:
    user = _create(client, upstream.base_url)
    with _proxy(upstream, "deactivate-ignored") as proxy:
        body = _user(user["userName"], nickName="put")
        body["active"] = False
        response = client.put(f"{proxy.url}/Users/{user['id']}", json=body)
        assert response.status_code == 200
        assert response.json()["active"] is True
    current = client.get(f"{upstream.base_url}/Users/{user['id']}").json()
    assert current["active"] is True
    assert current["nickName"] == "put"


def test_list_html(upstream: EmbeddedServer, client: httpx.Client) -> None:
    with _proxy(upstream, "list-html") as proxy:
        groups = client.get(f"{proxy.url}/Groups")
        assert groups.status_code == 200
        assert groups.headers["content-type"].startswith("text/html")
        assert groups.text == "<html><body>Not found</body></html>"
        users = client.get(f"{proxy.url}/Users")
        assert users.status_code == 200 and users.json()["schemas"] == [LIST_SCHEMA]
    assert client.get(f"{upstream.base_url}/Groups").json()["schemas"] == [LIST_SCHEMA]


def test_error_not_scim(upstream: EmbeddedServer, client: httpx.Client) -> None:
    with _proxy(upstream, "error-not-scim") as proxy:
        missing = client.get(f"{proxy.url}/Users/does-not-exist")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/json"
        assert missing.json() == {"error": "bad"}
        with httpx.Client(trust_env=False, timeout=10.0) as anonymous:
            unauthorised = anonymous.get(f"{proxy.url}/Users")
        assert unauthorised.status_code == 401
        assert unauthorised.json() == {"error": "bad"}
        ok = client.get(f"{proxy.url}/Users")
        assert ok.status_code == 200 and ok.json()["schemas"] == [LIST_SCHEMA]
    assert client.get(f"{upstream.base_url}/Users/does-not-exist").json()["schemas"] == [
        ERROR_SCHEMA
    ]


def test_response_rewrites_apply_to_short_circuits_too(
    upstream: EmbeddedServer, client: httpx.Client
) -> None:
    user = _create(client, upstream.base_url)
    with _proxy(upstream, "patch-capitalised-op-rejected", "error-not-scim") as proxy:
        response = client.patch(
            f"{proxy.url}/Users/{user['id']}",
            json=_patch({"op": "Add", "path": "nickName", "value": "x"}),
        )
    assert response.status_code == 400
    assert response.json() == {"error": "bad"}


def test_custom_deviation_sees_the_client_request(upstream: EmbeddedServer) -> None:
    seen: list[ProxyRequest] = []

    def note(request: ProxyRequest, response: ProxyResponse) -> ProxyResponse:
        seen.append(request)
        return response.with_json({"rewritten": True})

    deviation = Deviation("custom", "rewrites everything", "test", rewrite_response=note)
    with DeviatingProxy(upstream.base_url, [deviation]) as proxy, httpx.Client(
        trust_env=False, timeout=10.0
    ) as c:
        response = c.get(f"{proxy.url}/ServiceProviderConfig?x=1")
    assert response.json() == {"rewritten": True}
    assert int(response.headers["content-length"]) == len(response.content)
    assert seen[0].path == "/v2/ServiceProviderConfig?x=1"
    assert seen[0].route == "/v2/ServiceProviderConfig"
    assert seen[0].query == {"x": ["1"]}


def test_chunked_request_bodies_are_forwarded(
    upstream: EmbeddedServer, client: httpx.Client
) -> None:
    def chunks() -> Iterator[bytes]:
        body = json.dumps(_user()).encode()
        yield body[:10]
        yield body[10:]

    with DeviatingProxy(upstream.base_url) as proxy:
        response = client.post(
            f"{proxy.url}/Users",
            content=chunks(),
            headers={"Content-Type": "application/scim+json"},
        )
        assert response.status_code == 201, response.text
        assert proxy.requests_seen[0].headers.get("transfer-encoding") == "chunked"
