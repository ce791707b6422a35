"""Secrets never leave the process: the Redactor, the curl line, and URL joining under a base."""

from __future__ import annotations

import base64
import html
import json
import re
import urllib.parse

import pytest

from conformance.engine.errors import HarnessError
from conformance.engine.exchange import Exchange, Received, Sent
from conformance.engine.redact import (
    MASK,
    Redactor,
    check_credential,
    is_sensitive_query_name,
    printable,
    shown_url,
    url_credentials,
)
from conformance.engine.transport import INVALID_TOKEN, join_url
from conformance.reporting.reproduce import curl_line, format_exchange, format_sent

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


def test_a_short_secret_learnt_from_traffic_is_masked_anyway():
    # A user's own short credential is refused (check_credential); one learnt otherwise is masked.
    assert Redactor(["abc"]).text("abc abcdef") == f"{MASK} {MASK}def"


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


# --- every form a target may echo a secret in ----------------------------------------------

HOSTILE = 'tok-"Q\\<&>\'~+/?é=Zq8wX3vN5'  # quotes, backslash, HTML, URL and base64-changing characters


def _echoes(secret: str) -> list[tuple[str, int]]:
    """(`secret` as a hostile server echoes it, how many characters of the echo may stay: a JSON
    document's own, a Basic credential's user part, and base64 characters that also depend on the
    neighbouring bytes)."""
    raw = secret.encode("utf-8")
    percent = urllib.parse.quote(secret, safe="")
    basic = [encode(f"{user}:{secret}".encode()).decode() for user in ("a", "ab", "abc")
             for encode in (base64.b64encode, base64.urlsafe_b64encode)]
    return [
        (json.dumps({"detail": secret}), len('{"detail": ""}')),
        (json.dumps({"detail": secret}, ensure_ascii=False), len('{"detail": ""}')),
        (percent, 0), (urllib.parse.quote(secret), 0), (urllib.parse.quote_plus(secret), 0),
        (re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), percent), 0), (html.escape(secret), 0),
        (repr(raw)[2:-1], 0),
        (base64.b64encode(raw).decode(), 4), (base64.b64encode(raw).decode().rstrip("="), 4),
        (base64.urlsafe_b64encode(raw).decode(), 4), (base64.urlsafe_b64encode(raw).decode().rstrip("="), 4),
        *((echo, 9) for echo in basic),  # "abc:" is 6 base64 characters, then 1 partial and "=="
    ]


@pytest.mark.parametrize("index", range(len(_echoes(HOSTILE))))
def test_a_secret_is_masked_in_each_form_a_target_may_echo_it_in(index):
    echo, may_stay = _echoes(HOSTILE)[index]
    shown = Redactor([HOSTILE]).text(f"answer: {echo} end")
    assert MASK in shown and HOSTILE not in shown
    left = shown.removeprefix("answer: ").removesuffix(" end")
    assert len(left.replace(MASK, "", 1)) <= may_stay, left


def test_the_echo_forms_really_contain_the_secret_unmasked():
    # The check above can fail: without the redactor each echo holds the secret or one of its forms.
    assert all(MASK not in Redactor().text(f"answer: {echo} end") for echo, _ in _echoes(HOSTILE))
    assert Redactor().text(_echoes(HOSTILE)[8][0]) == base64.b64encode(HOSTILE.encode()).decode()


def test_a_secret_used_as_a_json_key_is_masked():
    shown = Redactor([TOKEN]).body(json.dumps({TOKEN: "x", f"k-{TOKEN}": {TOKEN: 1}}).encode())
    assert TOKEN not in shown
    assert f'"{MASK}": "x"' in shown and f'"k-{MASK}"' in shown


def test_a_secret_in_a_json_key_is_masked_in_data_too():
    assert Redactor([TOKEN]).data({TOKEN: "x"}) == {MASK: "x"}


# --- credentials in URLs ----------------------------------------------------------------------

URL = "https://admin:Url-Pw-5566778@scim.example.com/v2?tenant=acme&sig=Sig-0011223344&code=Code-99887766"


def test_a_url_shown_has_no_userinfo_and_no_secret_query_value():
    assert shown_url(URL) == f"https://scim.example.com/v2?tenant=acme&sig={MASK}&code={MASK}"


def test_text_masks_userinfo_and_secret_query_values_in_any_url_it_holds():
    shown = Redactor().text(f"GET {URL}/Users -> 401")
    assert "Url-Pw-5566778" not in shown and "Sig-0011223344" not in shown and "Code-99887766" not in shown
    assert "tenant=acme" in shown and "scim.example.com" in shown


@pytest.mark.parametrize("name", ["sig", "signature", "X-Amz-Signature", "token", "access_token", "key", "api_key",
                                  "apikey", "code", "password", "secret", "client_secret", "session_id"])
def test_secret_looking_query_names(name):
    assert is_sensitive_query_name(name)


@pytest.mark.parametrize("name", ["filter", "count", "startIndex", "attributes", "excludedAttributes", "tenant"])
def test_ordinary_query_names(name):
    assert not is_sensitive_query_name(name)


def test_the_credentials_of_a_base_url_are_found():
    assert [value for _, value in url_credentials(URL)] == ["Url-Pw-5566778", "Sig-0011223344", "Code-99887766"]


# --- credential headers by name ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["X-Custom-Auth", "X-Auth-Token", "X-Session-Id", "X-Signature", "X-Client-Secret",
                                  "Ocp-Apim-Subscription-Key"])
def test_a_custom_credential_header_is_masked_whole(name):
    assert Redactor().header(name, f"Scheme {TOKEN}") == MASK


def test_www_authenticate_is_shown():
    assert Redactor().header("WWW-Authenticate", 'Bearer realm="SCIM"') == 'Bearer realm="SCIM"'


# --- a user's own credential is checked before anything is sent -----------------------------------

@pytest.mark.parametrize("value", ["", "a", "abc", "1234567"])
def test_a_credential_under_eight_characters_is_refused(value):
    with pytest.raises(HarnessError, match="refuses credentials under 8 characters") as raised:
        check_credential(value, "the token in $SCIM_TOKEN")
    assert "the token in $SCIM_TOKEN is" in str(raised.value)


@pytest.mark.parametrize(("value", "kind"), [("tökén-12345678", "non-ASCII"), ("tok-1234\n5678", "control")])
def test_a_credential_a_header_cannot_carry_is_refused_without_showing_it(value, kind):
    with pytest.raises(HarnessError, match=kind) as raised:
        check_credential(value, "the token in $SCIM_TOKEN")
    assert value not in str(raised.value)


def test_an_eight_character_ascii_credential_is_accepted():
    check_credential("12345678", "the token")


# --- control characters from a target ------------------------------------------------------------

def test_control_characters_are_escaped_and_newline_and_tab_stay():
    hostile = "a\x1b[31mred\x1b]52;c;SGVsbG8=\x07\x00\x9b2J\u202eevil\rover\r\nline\tcol\n"
    shown = printable(hostile)
    assert shown == "a\\x1b[31mred\\x1b]52;c;SGVsbG8=\\x07\\x00\\x9b2J\\u202eevil\\rover\r\nline\tcol\n"


def test_text_and_json_for_display_hold_no_control_character():
    redactor = Redactor()
    shown_texts = (redactor.text("\x1b[2J\x00"), redactor.json({"k\x9b": "\u202e\x1b"}),
                   redactor.body(b"\x1b]52;c;x\x07"))
    for shown in shown_texts:
        assert not any((ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0 or c == "\u202e" for c in shown)


def test_a_custom_credential_header_the_request_carried_is_masked_where_the_answer_echoes_it():
    exchange = Exchange(Sent("GET", f"{BASE}/Users", (("X-Custom-Auth", "custom-9f8e7d6c"),), None),
                        Received(200, "OK", (("X-Echo", "custom-9f8e7d6c"),), "{}", {"you": "custom-9f8e7d6c"}, 1.0))
    shown = format_exchange(exchange, Redactor())
    assert "custom-9f8e7d6c" not in shown
    assert f"X-Custom-Auth: {MASK}" in shown and f"X-Echo: {MASK}" in shown
