"""The cleanup ledger: what a run created, removed in reverse order when the scenario ends.

Resources are recorded from the target's own answers (a 2xx to POST on a collection that names
an `id`), so nothing is recorded that this run did not create, and nothing that was created is
forgotten because a scenario author left out a cleanup step.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from conformance.engine.exchange import Exchange

__all__ = ["Ledger", "LedgerEntry"]


@dataclass(frozen=True)
class LedgerEntry:
    """One resource this run created: its collection path (e.g. /Users) and id."""

    collection: str
    id: str
    step: str

    @property
    def path(self) -> str:
        return f"{self.collection}/{self.id}"


def _collection_of(path: str) -> str:
    # "/Users?x=1" -> "/Users"; "/Users/" -> "/Users"
    return "/" + urlsplit(path).path.strip("/")


class Ledger:
    """Resources created by one scenario run, in creation order."""

    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []

    def observe(self, method: str, path: str, exchange: Exchange, step: str) -> None:
        """Record a creation, or forget a resource the scenario deleted itself."""
        received = exchange.received
        if received is None or not 200 <= received.status < 300:
            return
        if method == "POST" and _collection_of(path).count("/") == 1:
            body = received.json
            resource_id = body.get("id") if isinstance(body, dict) else None
            if isinstance(resource_id, str) and resource_id:
                self.entries.append(LedgerEntry(_collection_of(path), resource_id, step))
        elif method == "DELETE":
            gone = _collection_of(path)
            self.entries = [e for e in self.entries if e.path != gone]

    def pending(self) -> list[LedgerEntry]:
        """What is still to clean up, newest first (members before the groups that hold them)."""
        return list(reversed(self.entries))
