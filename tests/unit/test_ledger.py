"""The cleanup ledger records what a run created, from the target's own answers."""

from __future__ import annotations

import json
from typing import Any

from conformance.engine.exchange import NOT_JSON, Exchange, Received, Sent
from conformance.engine.ledger import Ledger, LedgerEntry


def answer(status: int, body: Any = None) -> Exchange:
    text = "" if body is None else json.dumps(body)
    parsed = NOT_JSON if body is None else body
    sent = Sent("POST", "https://h/scim/v2/x", (), None)
    return Exchange(sent, Received(status, "", (), text, parsed, 1.0))


def created(ledger: Ledger, path: str, resource_id: str, step: str = "create") -> None:
    ledger.observe("POST", path, answer(201, {"id": resource_id}), step)


def test_a_201_to_post_users_with_an_id_is_recorded():
    ledger = Ledger()
    ledger.observe("POST", "/Users", answer(201, {"id": "u1", "userName": "ada"}), "create the user")
    assert ledger.pending() == [LedgerEntry("/Users", "u1", "create the user")]


def test_a_recorded_entry_knows_its_resource_path():
    ledger = Ledger()
    created(ledger, "/Users", "u1")
    assert ledger.pending()[0].path == "/Users/u1"


def test_a_creation_is_recorded_under_the_collection_without_query_or_trailing_slash():
    ledger = Ledger()
    created(ledger, "/Groups/?attributes=id", "g1")
    assert ledger.pending()[0].path == "/Groups/g1"


def test_a_4xx_answer_is_not_recorded_even_with_an_id():
    ledger = Ledger()
    ledger.observe("POST", "/Users", answer(409, {"id": "u1", "scimType": "uniqueness"}), "create")
    assert ledger.pending() == []


def test_a_5xx_answer_is_not_recorded():
    ledger = Ledger()
    ledger.observe("POST", "/Users", answer(500, {"id": "u1"}), "create")
    assert ledger.pending() == []


def test_a_2xx_without_an_id_is_not_recorded():
    ledger = Ledger()
    ledger.observe("POST", "/Users", answer(201, {"userName": "ada"}), "create")
    ledger.observe("POST", "/Users", answer(201, {"id": ""}), "create")
    ledger.observe("POST", "/Users", answer(201), "create")
    assert ledger.pending() == []


def test_a_transport_failure_is_not_recorded():
    ledger = Ledger()
    ledger.observe("POST", "/Users", Exchange(Sent("POST", "u", (), None), None, "timed out"), "create")
    assert ledger.pending() == []


def test_a_get_is_not_a_creation():
    ledger = Ledger()
    ledger.observe("GET", "/Users", answer(200, {"id": "u1"}), "read")
    assert ledger.pending() == []


def test_a_post_to_a_sub_path_of_a_resource_is_not_a_creation():
    ledger = Ledger()
    ledger.observe("POST", "/Users/u1/password", answer(201, {"id": "u1"}), "change password")
    assert ledger.pending() == []


def test_a_post_search_is_not_a_creation():
    ledger = Ledger()
    ledger.observe("POST", "/Users/.search", answer(200, {"id": "x"}), "search")
    assert ledger.pending() == []


def test_a_successful_delete_forgets_the_resource():
    ledger = Ledger()
    created(ledger, "/Users", "u1")
    created(ledger, "/Users", "u2")
    ledger.observe("DELETE", "/Users/u1", answer(204), "delete")
    assert [entry.id for entry in ledger.pending()] == ["u2"]


def test_a_failed_delete_does_not_forget_the_resource():
    ledger = Ledger()
    created(ledger, "/Users", "u1")
    ledger.observe("DELETE", "/Users/u1", answer(403), "delete")
    assert [entry.id for entry in ledger.pending()] == ["u1"]


def test_a_delete_of_another_collections_resource_with_the_same_id_forgets_nothing():
    ledger = Ledger()
    created(ledger, "/Users", "same")
    ledger.observe("DELETE", "/Groups/same", answer(204), "delete")
    assert [entry.path for entry in ledger.pending()] == ["/Users/same"]


def test_pending_lists_the_newest_creation_first():
    ledger = Ledger()
    created(ledger, "/Users", "u1")
    created(ledger, "/Groups", "g1")
    created(ledger, "/Users", "u2")
    assert [entry.path for entry in ledger.pending()] == ["/Users/u2", "/Groups/g1", "/Users/u1"]


def test_pending_does_not_change_the_ledger():
    ledger = Ledger()
    created(ledger, "/Users", "u1")
    ledger.pending().clear()
    assert len(ledger.pending()) == 1


# --- a creation is recorded only when it is proven to be the run's ----------------------------

def test_a_creation_the_proof_refuses_is_not_recorded_and_the_reason_is_returned():
    ledger = Ledger()
    asked: list[LedgerEntry] = []

    def proof(entry: LedgerEntry) -> str | None:
        asked.append(entry)
        return "names another resource"

    reason = ledger.observe("POST", "/Users", answer(201, {"id": "u1"}), "create",
                            sent={"userName": "scimc-r-1.a.b@example.com"}, proof=proof)
    assert reason == "names another resource"
    assert ledger.pending() == []
    assert asked == [LedgerEntry("/Users", "u1", "create", "scimc-r-1.a.b@example.com")]


def test_a_proven_creation_is_recorded_with_the_name_the_create_sent():
    ledger = Ledger()
    reason = ledger.observe("POST", "/Groups", answer(201, {"id": "g1", "displayName": "lie"}), "create",
                            sent={"displayName": "scimc-r-1 Ops"}, proof=lambda entry: None)
    assert reason is None
    assert ledger.pending() == [LedgerEntry("/Groups", "g1", "create", "scimc-r-1 Ops")]


def test_an_id_the_run_already_holds_is_neither_proven_again_nor_recorded_twice():
    ledger = Ledger()
    created(ledger, "/Users", "u1")
    refused = []
    assert ledger.observe("POST", "/Users", answer(200, {"id": "u1"}), "again",
                          proof=lambda entry: refused.append(entry) or "no") is None
    assert refused == [] and len(ledger.pending()) == 1


def test_a_traversal_id_is_never_recorded_and_its_path_never_built():
    ledger = Ledger()
    reason = ledger.observe("POST", "/Groups", answer(201, {"id": "../Groups/victim"}), "create")
    assert reason is not None and "cannot be used in a URL (it contains '/')" in reason
    assert ledger.pending() == []


def test_an_entry_path_encodes_its_id_as_one_segment():
    assert LedgerEntry("/Users", "a b;c", "s").path == "/Users/a%20b%3Bc"
