"""Server-given ids go into a URL only as one encoded segment; a created resource is proven the run's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance.engine.exchange import NOT_JSON, Exchange, Received, Sent
from conformance.engine.resource_ids import (
    UnusableId,
    generated_name,
    id_problem,
    path_segment,
    prove_created,
    render_path,
    same_name,
)


def answer(status: int, body: Any = None) -> Exchange:
    text = "" if body is None else json.dumps(body)
    return Exchange(Sent("GET", "https://h/x", (), None),
                    Received(status, "", (), text, NOT_JSON if body is None else body, 1.0))


@pytest.mark.parametrize(("value", "problem"), [
    ("../Groups/g1", "it contains '/'"),
    ("..", "it is '..', a relative path"),
    (".", "it is '.', a relative path"),
    ("", "it is empty"),
    ("u1?x=1", "it contains '?'"),
    ("u1#top", "it contains '#'"),
    ("u1\\..\\g", "it contains '\\'"),
    ("u1\x1b[2J", "it contains a control character"),
    ("u1\n", "it contains a control character"),
    ("..%2FGroups%2Fg1", "it contains '%' (it contains '/' once decoded)"),
    ("100%", "it contains '%'"),
    ("x" * 1025, "it is 1025 characters long"),
    (None, "it is null, not a string"),
    (["u1"], "it is an array, not a string"),
    (True, "it is true or false, not a string"),
])
def test_ids_that_are_not_one_path_segment_are_refused_with_the_reason(value: object, problem: str):
    assert id_problem(value) == problem
    with pytest.raises(UnusableId, match="refused, nothing was sent to it"):
        path_segment(value)


@pytest.mark.parametrize(("value", "segment"), [
    ("2819c223-7f76-453a-919d-413861904646", "2819c223-7f76-453a-919d-413861904646"),
    ("ada@example.com", "ada@example.com"),
    ("a b", "a%20b"),
    ("a;b", "a%3Bb"),  # some servers cut a segment at ';'
    ("ü", "%C3%BC"),
    ("...", "..."),
    (17, "17"),
])
def test_usable_ids_are_encoded_as_one_segment(value: object, segment: str):
    assert id_problem(value) is None
    assert path_segment(value) == segment


def test_a_path_template_encodes_what_it_substitutes_before_the_query_only():
    scope = {"user_id": "a b", "name": "scimc-r-1.a.b@example.com"}
    assert render_path("/Users/${user_id}", scope) == "/Users/a%20b"
    assert render_path("/Users?filter=userName+eq+%22${name}%22&", scope) == \
        "/Users?filter=userName+eq+%22scimc-r-1.a.b@example.com%22&"
    with pytest.raises(UnusableId, match=r"the id \"../Groups/g1\" from the target cannot be used in a URL"):
        render_path("/Users/${user_id}", {"user_id": "../Groups/g1"})


def test_user_names_compare_case_insensitively_group_names_exactly():
    assert same_name("/Users", "scimc-r-1.a.b@x.com", "SCIMC-R-1.A.B@X.COM")
    assert not same_name("/Groups", "scimc-r-1 Ops", "SCIMC-R-1 OPS")
    assert not same_name("/Users", "", "")
    assert not same_name("/Users", "a", None)


def test_a_create_is_proven_by_one_get_that_reads_the_sent_name_back():
    reads: list[str] = []

    def read(body: Any, status: int = 200) -> Any:
        def send(path: str) -> Exchange:
            reads.append(path)
            return answer(status, body)
        return send

    assert prove_created(read({"id": "u 1", "userName": "Ada@x.com"}), "/Users", "u 1", "ada@x.com", "r") is None
    assert reads == ["/Users/u%201"]
    other = prove_created(read({"id": "u1", "userName": "ceo@x.com"}), "/Users", "u1", "ada@x.com", "r")
    assert other == ('the create answer\'s id "u1" names another resource (it has userName "ceo@x.com"; this run '
                     'created "ada@x.com"): it is not recorded as this run\'s, and cleanup leaves it alone')
    stored_apart = {"id": "u2", "userName": "scimc-r-1.a.b@x.com.second-account"}  # still a name of run r
    assert prove_created(read(stored_apart), "/Users", "u2", "scimc-r-1.a.b@x.com", "r") is None
    # A user the server created with userName "" is still known by the displayName the create sent.
    empty = {"id": "u3", "userName": "", "displayName": "Ada Lovelace (r-7)"}
    sent = generated_name("/Users", {"userName": "", "displayName": "Ada Lovelace (r-7)"})
    assert sent == "Ada Lovelace (r-7)"
    assert prove_created(read(empty), "/Users", "u3", sent, "r") is None
    gone = prove_created(read(None, 404), "/Groups", "g1", "scimc-r-1 Ops", "r")
    assert gone is not None and "a GET of it answered 404" in gone
    reads.clear()
    assert "contains '/'" in (prove_created(read({}), "/Groups", "../Groups/g1", "n", "r") or "")
    assert "the create sent no userName" in (prove_created(read({}), "/Users", "u1", "", "r") or "")
    assert reads == []  # neither an unusable id nor an unprovable create costs a request
