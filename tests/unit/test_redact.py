"""Secrets never leave the process: the Redactor, the curl line, and URL joining under a base."""

from __future__ import annotations

import json

import pytest

from conformance.engine.exchange import Exchange, Sent
from conformance.engine.redact import MASK, Redactor
from conformance.engine.transport import INVALID_TOKEN, join_url
from conformance.reporting.reproduce import curl_line, format_sent

TOKEN = "tok-9f8e7d6c5b4a"
BASE = "https://scim.example.com/scim/v2"


def sent(
    method: str = "GET",
    url: str = f"{BASE}/Users",
    headers: tuple[tuple[str, str], ...] = (("Authorization", f"Bearer {TOKEN}"),),
    body: object = None,
) -> Exchange:
    raw = None if body is None else json.dumps(body).encode("utf-8")
    return Exchange(Sent(method, url, headers, raw), None, "not sent")


# --- Redactor: headers ---------------------------------------------------------------------

def test_the_authorization_header_is_masked_by_name_keeping_its_scheme():
    assert Redactor().header("Authorization", f"Bearer {TOKEN}") == f"Bearer {MASK}"


def test_the_authorization_header_is_masked_whatever_the_case_of_its_name():
    assert Redactor().header("authorization", "Basic dXNlcjpwYXNz") == f"Basic {MASK}"


def test_an_authorization_header_without_a_scheme_is_masked_whole():
    assert Redactor().header("Authorization", TOKEN) == MASK


@pytest.mark.parametrize("name", ["Cookie", "Set-Cookie", "X-Api-Key", "Proxy-Authorization"])
def test_other_credential_headers_are_masked_by_name(name):
    assert TOKEN not in Redactor().header(name, TOKEN)


def test_an_ordinary_header_is_kept():
    assert Redactor().header("Content-Type", "application/scim+json") == "application/scim+json"


def test_headers_masks_only_the_sensitive_ones():
    headers = [("Accept", "application/scim+json"), ("Authorization", f"Bearer {TOKEN}")]
    assert Redactor().headers(headers) == [
        ("Accept", "application/scim+json"), ("Authorization", f"Bearer {MASK}"),
    ]


# --- Redactor: bodies ----------------------------------------------------------------------

def test_a_password_key_is_masked():
    data = {"userName": "ada", "password": "Pa55word!"}
    assert Redactor().data(data) == {"userName": "ada", "password": MASK}


def test_a_password_key_in_a_nested_object_is_masked():
    data = {"Operations": [{"op": "replace", "value": {"password": "Pa55word!", "active": True}}]}
    masked = {"Operations": [{"op": "replace", "value": {"password": MASK, "active": True}}]}
    assert Redactor().data(data) == masked


def test_an_empty_password_is_left_visible():
    assert Redactor().data({"password": ""}) == {"password": ""}


def test_the_body_of_a_request_is_shown_with_passwords_masked():
    shown = Redactor().body(json.dumps({"user": {"password": "Pa55word!"}}).encode())
    assert "Pa55word!" not in shown
    assert MASK in shown


def test_a_non_json_body_still_has_known_secrets_removed():
    assert Redactor([TOKEN]).body(f"<html>bad token {TOKEN}</html>") == f"<html>bad token {MASK}</html>"


def test_the_value_of_a_patch_operation_on_the_password_path_is_masked():
    data = {"Operations": [{"op": "replace", "path": "password", "value": "N3wPa55word!"}]}
    assert "N3wPa55word!" not in json.dumps(Redactor().data(data))


# --- Redactor: free text -------------------------------------------------------------------

def test_a_registered_secret_is_masked_wherever_it_appears_in_text():
    redactor = Redactor()
    redactor.add_secret(TOKEN)
    text = f"401: token {TOKEN} rejected; retry?t={TOKEN}"
    assert redactor.text(text) == f"401: token {MASK} rejected; retry?t={MASK}"


def test_a_registered_secret_is_masked_inside_json_string_values():
    assert Redactor([TOKEN]).data({"detail": f"bad token {TOKEN}"}) == {"detail": f"bad token {MASK}"}


def test_a_registered_secret_is_masked_in_an_ordinary_header_value():
    assert Redactor([TOKEN]).header("X-Echo", f"you sent {TOKEN}") == f"you sent {MASK}"


def test_a_too_short_secret_is_not_registered():
    assert Redactor(["abc"]).text("abc abcdef") == "abc abcdef"


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "Basic", "SSWS"])
def test_a_credential_after_an_auth_scheme_is_masked_even_if_never_registered(scheme):
    text = f"server said: {scheme} eyJhbGciOi.J9eyJzdWIi-OiIx_MjM0NTY3ODkwIn0= was rejected"
    assert Redactor().text(text) == f"server said: {scheme} {MASK} was rejected"


# --- curl line -----------------------------------------------------------------------------

def test_curl_puts_the_token_variable_in_place_of_the_token():
    line = curl_line(sent(), Redactor())
    assert '-H "Authorization: Bearer $SCIM_TOKEN"' in line
    assert TOKEN not in line


def test_curl_uses_the_configured_token_variable():
    line = curl_line(sent(), Redactor(), token_env="GRAFANA_TOKEN")
    assert '"Authorization: Bearer $GRAFANA_TOKEN"' in line
    assert TOKEN not in line


def test_curl_never_shows_the_token_even_when_it_is_not_registered():
    assert TOKEN not in curl_line(sent(), Redactor())


def test_curl_keeps_the_deliberately_invalid_token_of_an_auth_test():
    line = curl_line(sent(headers=(("Authorization", f"Bearer {INVALID_TOKEN}"),)), Redactor())
    assert INVALID_TOKEN in line
    assert "$SCIM_TOKEN" not in line


def test_curl_never_shows_a_token_sent_without_a_scheme():
    line = curl_line(sent(headers=(("Authorization", TOKEN),)), Redactor([TOKEN]))
    assert TOKEN not in line


def test_curl_masks_passwords_in_the_body():
    body = {"userName": "ada", "password": "Pa55word!"}
    exchange = sent("POST", body=body, headers=(("Content-Type", "application/scim+json"),))
    line = curl_line(exchange, Redactor())
    assert "Pa55word!" not in line
    assert f'"password": "{MASK}"' in line
    assert '"userName": "ada"' in line


def test_curl_repeats_method_url_and_ordinary_headers():
    exchange = sent("DELETE", f"{BASE}/Users/42", headers=(("Accept", "application/scim+json"),))
    line = curl_line(exchange, Redactor())
    assert line == f"curl -sS -i -X DELETE {BASE}/Users/42 -H 'Accept: application/scim+json'"


def test_curl_removes_a_registered_secret_from_the_url():
    line = curl_line(sent(url=f"{BASE}/Users?key={TOKEN}"), Redactor([TOKEN]))
    assert TOKEN not in line


def test_the_formatted_request_masks_the_authorization_header():
    shown = format_sent(sent().sent, Redactor())
    assert TOKEN not in shown
    assert f"Authorization: Bearer {MASK}" in shown


# --- join_url ------------------------------------------------------------------------------

def test_join_url_keeps_the_base_path():
    assert join_url("https://h.example/scim/v2", "/Users") == "https://h.example/scim/v2/Users"


def test_join_url_keeps_a_long_base_path():
    base = "https://grafana.example/apis/scim.grafana.app/v0alpha1/namespaces/default"
    assert join_url(base, "/Users/abc") == f"{base}/Users/abc"


def test_join_url_ignores_a_trailing_slash_on_the_base_and_a_missing_one_on_the_path():
    assert join_url("https://h.example/scim/v2/", "Users") == "https://h.example/scim/v2/Users"


def test_join_url_keeps_the_base_urls_own_query():
    url = join_url("https://h.example/scim?aadOptscim062020", "/Users")
    assert url == "https://h.example/scim/Users?aadOptscim062020"


def test_join_url_keeps_the_base_urls_query_before_the_requests_query():
    url = join_url("https://h.example/scim?aadOptscim062020", "/Users", {"startIndex": 1})
    assert url == "https://h.example/scim/Users?aadOptscim062020&startIndex=1"


def test_join_url_encodes_spaces_as_percent_20():
    url = join_url("https://h.example/scim/v2", "/Users", {"filter": 'userName eq "ada lovelace"'})
    assert url == "https://h.example/scim/v2/Users?filter=userName%20eq%20%22ada%20lovelace%22"
    assert "+" not in url


def test_join_url_writes_booleans_as_json_booleans():
    url = join_url("https://h.example/scim", "/Users", {"active": True})
    assert url == "https://h.example/scim/Users?active=true"


def test_join_url_merges_a_paths_own_query_with_the_base_urls_query():
    url = join_url("https://h.example/scim?aadOptscim062020", "/Users?startIndex=1")
    assert url.count("?") == 1
    assert url.startswith("https://h.example/scim/Users?")
    assert set(url.split("?", 1)[1].split("&")) == {"aadOptscim062020", "startIndex=1"}


def test_an_auth_param_is_not_taken_for_a_credential():
    assert Redactor().text('WWW-Authenticate: Bearer realm="SCIM"') == 'WWW-Authenticate: Bearer realm="SCIM"'


def test_a_null_query_value_leaves_the_parameter_out():
    assert join_url("https://h.example/scim", "/Users", {"filter": None, "count": 1}) == \
        "https://h.example/scim/Users?count=1"


@pytest.mark.parametrize("text", [
    "Entra tests the connection with a wrong token\nStep 1 \"test connection\"",
    "Bearer tokens are refused",
    "send the token header",
])
def test_prose_about_tokens_is_left_alone(text: str):
    assert Redactor().text(text) == text


@pytest.mark.parametrize("credential", ["abcd1234", "secretvalue_x", "QWERTYUIOPASDFGHJKLZ"])
def test_credentials_that_look_like_words_are_still_masked_after_a_scheme(credential: str):
    assert Redactor().text(f"Authorization: Token {credential}") == f"Authorization: Token {MASK}"


def test_a_lowercase_token_before_a_path_is_prose():
    text = "without a token /Users answers 401"
    assert Redactor().text(text) == text


def test_hundreds_of_secrets_are_all_found_those_just_learnt_and_the_older_ones():
    redactor = Redactor()
    secrets = [f"Pw{i:04d}!generated" for i in range(250)]  # more than one batch of pending secrets
    for secret in secrets:
        redactor.add_secret(secret)
    text = " | ".join([*secrets[::3], secrets[-1] + secrets[0], f"x{secrets[100]}y"])
    masked = redactor.text(text)
    assert "generated" not in masked and "Pw0" not in masked
    assert masked.count(MASK) == len(secrets[::3]) + 2  # two touching secrets become one mask
    assert masked.endswith(f"x{MASK}y")
