"""Another client writing to the same server while a run pages through a collection.

`BusyNeighbour.deviation()` goes into a `DeviatingProxy`: before the proxy forwards a request for
a page after the first (GET /Users or /Groups with a startIndex above 1), the neighbour creates
one user or group of its own on the real server, or deletes one it created earlier. The page the
run then gets is the server's honest answer to a collection that changed since the last page:
totalResults moves and the resources shift by one. The neighbour writes at most `writes` times,
then leaves the server alone; `remove_all` deletes what it still holds.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from tests.support.deviating_proxy import Deviation, ProxyRequest, call_upstream

__all__ = ["BusyNeighbour"]

_CORE = "urn:ietf:params:scim:schemas:core:2.0:"


class BusyNeighbour:
    """Creates, creates, deletes, ... between the pages of list reads, `writes` times in all."""

    def __init__(self, writes: int) -> None:
        self.writes_left = writes
        self.held: list[tuple[ProxyRequest, str]] = []  # (a request to reach the server with, path)
        self.done: list[str] = []  # "POST /Users", "DELETE /Users/{id}", ... in order
        self._lock = threading.Lock()

    def deviation(self) -> Deviation:
        return Deviation("busy-neighbour", "another client creates and deletes resources between the pages",
                         "RFC 7644 §3.4.2.4 (resources may change between requests)",
                         rewrite_request=self._between_pages)

    def _between_pages(self, request: ProxyRequest) -> ProxyRequest:
        collection = request.route.rstrip("/").rsplit("/", 1)[-1]
        start = request.query.get("startIndex", ["1"])[0]
        if request.method != "GET" or collection not in ("Users", "Groups") or start in ("", "0", "1"):
            return request
        with self._lock:
            if self.writes_left <= 0:
                return request
            self.writes_left -= 1
            # Every third write removes an earlier one: the list grows and shrinks under the reader.
            if len(self.done) % 3 == 2 and self.held:
                holder, path = self.held.pop(0)
                call_upstream(holder, "DELETE", path).raise_for_status()
                self.done.append(f"DELETE {path}")
            else:
                created = call_upstream(request, "POST", request.route, self._body(collection))
                created.raise_for_status()
                path = f"{request.route.rstrip('/')}/{created.json()['id']}"
                self.held.append((request, path))
                self.done.append(f"POST {request.route}")
        return request

    @staticmethod
    def _body(collection: str) -> dict[str, Any]:
        name = f"neighbour-{uuid.uuid4().hex[:12]}"
        if collection == "Users":
            return {"schemas": [_CORE + "User"], "userName": name}
        return {"schemas": [_CORE + "Group"], "displayName": name}

    def remove_all(self) -> None:
        with self._lock:
            while self.held:
                holder, path = self.held.pop()
                call_upstream(holder, "DELETE", path)
