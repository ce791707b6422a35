"""The cleanup ledger: what a run created, removed in reverse order when the scenario ends.

Resources are recorded from the target's own answers (a 2xx to POST on a collection that names
an `id`), so nothing that was created is forgotten because a scenario author left out a cleanup
step. An answer is not trusted on its own word: the runner passes a `proof` that reads the id back
(`conformance.engine.resource_ids.prove_created`), and an id it cannot prove is the run's is not
recorded, so cleanup never touches it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from conformance.engine.exchange import Exchange
from conformance.engine.resource_ids import created_id_problem, generated_name, resource_path

__all__ = ["Ledger", "LedgerEntry"]


@dataclass(frozen=True)
class LedgerEntry:
    """One resource this run created: its collection path (e.g. /Users), id, and generated name."""

    collection: str
    id: str
    step: str
    name: str = ""  # the userName or displayName the create sent

    @property
    def path(self) -> str:
        return resource_path(self.collection, self.id)


def _collection_of(path: str) -> str:
    # "/Users?x=1" -> "/Users"; "/Users/" -> "/Users"
    return "/" + urlsplit(path).path.strip("/")


class Ledger:
    """Resources created by one scenario run, in creation order."""

    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []

    def observe(
        self, method: str, path: str, exchange: Exchange, step: str, *,
        sent: Any = None, proof: Callable[[LedgerEntry], str | None] | None = None,
    ) -> str | None:
        """Record a creation, or forget a resource the scenario deleted itself.

        `sent` is the create request's body (it holds the generated name); `proof(entry)` says why
        the entry is not the run's, or None when it is. Returns why a creation was not recorded.
        """
        received = exchange.received
        if received is None or not 200 <= received.status < 300:
            return None
        if method == "POST" and _collection_of(path).count("/") == 1:
            body = received.json
            resource_id = body.get("id") if isinstance(body, dict) else None
            if not isinstance(resource_id, str) or not resource_id:
                return None
            collection = _collection_of(path)
            entry = LedgerEntry(collection, resource_id, step, generated_name(collection, sent))
            if any(e.collection == collection and e.id == resource_id for e in self.entries):
                return None  # the run's already (e.g. a second create that links to the first)
            problem = proof(entry) if proof is not None else created_id_problem(resource_id)
            if problem is None:
                self.entries.append(entry)
            return problem
        if method == "DELETE":
            gone = _collection_of(path)
            self.entries = [e for e in self.entries if e.path != gone]
        return None

    def pending(self) -> list[LedgerEntry]:
        """What is still to clean up, newest first (members before the groups that hold them)."""
        return list(reversed(self.entries))
