"""Judging a list read page by page (startIndex 1, 1+count, ...) as an IdP import reads it.

RFC 7644 §3.4.2.4 fixes the shape of every page: startIndex is 1-based and comes back as asked,
count is a maximum, itemsPerPage is the number returned and totalResults a number. It also says
"clients SHOULD never assume repeatable results", since "resources in the service provider may
have changed between requests": while other clients create and delete, a correct server's
pages shift under an offset read, and a resource is read twice or skipped. So a read is judged
by what others cannot change:

- every page's shape, always; and totalResults is never below the number of resources the run
  created (the `include` ids), which nobody else removes;
- a steady read (the same totalResults on every page) must add up exactly: no resource on two
  pages, as many distinct resources as totalResults, every one of the run's own among them;
- a read during which totalResults moved proves nothing across pages: the list is read again,
  up to `PASSES` reads, until one is steady. If none is, each of the run's own resources must
  have been read exactly once in some read: a server that skips or repeats one every time is
  broken, one that is merely busy has it once in some read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PASSES", "ListReads", "PagePass", "page_problems"]

PASSES = 4  # reads of a list that keeps changing before its own resources' slips count as the server's


def page_problems(body: Any, page: int, start: int, count: int) -> tuple[list[str], list[Any], Any]:
    """What is wrong with the shape of one page of a ListResponse, its resources and its totalResults."""
    if not isinstance(body, dict):
        return [f"page {page}: the answer is not a JSON object"], [], None
    problems: list[str] = []
    total = body.get("totalResults")
    if not _is_count(total):
        problems.append(f"page {page}: totalResults is {json.dumps(total)}, not an integer")
    resources = body.get("Resources", [])
    if not isinstance(resources, list):
        return [*problems, f"page {page}: Resources is not an array"], [], total
    returned_start = body.get("startIndex")
    if returned_start is not None and returned_start != start:
        problems.append(f"page {page}: asked for startIndex={start}, the answer says startIndex="
                        f"{json.dumps(returned_start)}")
    if len(resources) > count:
        problems.append(f"page {page}: {len(resources)} resources returned for count={count}")
    per_page = body.get("itemsPerPage")
    if per_page is not None and per_page != len(resources):
        problems.append(f"page {page}: itemsPerPage is {json.dumps(per_page)} but {len(resources)} "
                        "resources were returned")
    return problems, resources, total


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class PagePass:
    """One read of a list from startIndex=1 until totalResults, an empty page or `max_pages`."""

    own: tuple[str, ...]  # ids the run created
    count: int
    max_pages: int
    shape: list[str] = field(default_factory=list)  # wrong whoever else uses the server
    overlaps: list[tuple[str, str]] = field(default_factory=list)  # (id, why) of a resource read twice
    seen: dict[str, int] = field(default_factory=dict)  # id -> page it was first read on
    totals: list[int] = field(default_factory=list)  # totalResults of each page
    page: int = 0
    start: int | None = 1  # startIndex of the next page; None once the read has ended

    def read(self, body: Any) -> None:
        """Judge the page just read at `start`, and move on to the next one (or end the read)."""
        assert self.start is not None
        self.page += 1
        problems, resources, total = page_problems(body, self.page, self.start, self.count)
        self.shape += problems
        if not _is_count(total):
            self.start = None  # without a usable totalResults there is no knowing where the list ends
            return
        self.totals.append(total)
        if total < len(self.own):
            self.shape.append(f"page {self.page}: totalResults is {total}, fewer than the {len(self.own)} "
                              "resources this scenario created")
        on_page: set[str] = set()
        for resource in resources:
            self._take(resource, on_page)
        self.start += self.count
        if self.start > total or not resources:
            self.start = None
        elif self.page >= self.max_pages:
            self.shape.append(f"pagination did not end after {self.page} pages of {self.count} "
                              f"(totalResults {total})")
            self.start = None

    def _take(self, resource: Any, on_page: set[str]) -> None:
        rid = resource.get("id") if isinstance(resource, dict) else None
        if not isinstance(rid, str):
            self.shape.append(f"page {self.page}: a resource without an id")
        elif rid in on_page:
            self.shape.append(f"page {self.page}: id {rid} is listed twice on the page")
        elif rid in self.seen:
            on_page.add(rid)
            self.overlaps.append((rid, f"page {self.page}: id {rid} was already read on page {self.seen[rid]} "
                                       "(pages overlap)"))
        else:
            on_page.add(rid)
            self.seen[rid] = self.page

    @property
    def steady(self) -> bool:
        """Whether totalResults stayed the same on every page: nobody changed the list meanwhile."""
        return len(set(self.totals)) <= 1

    def read_once(self) -> set[str]:
        """The run's own resources this read had exactly once."""
        repeated = {rid for rid, _ in self.overlaps}
        return {rid for rid in self.own if rid in self.seen and rid not in repeated}

    def exact_problems(self) -> list[str]:
        """What a read nobody else disturbed gets wrong across its pages."""
        problems = [why for _, why in self.overlaps]
        missing = [rid for rid in self.own if rid not in self.seen]
        if self.totals and not problems and len(self.seen) != self.totals[-1]:
            problems.append(f"read {len(self.seen)} distinct resources in {self.page} page(s) of count="
                            f"{self.count}, but totalResults is {self.totals[-1]} (the IdP pages by count, "
                            "so resources are missed)")
        return problems + _missing(missing, self)


def _missing(missing: list[str], reading: PagePass) -> list[str]:
    if not missing:
        return []
    return [f"{len(missing)} of the {len(reading.own)} resources this scenario created were not among the "
            f"{len(reading.seen)} read: {', '.join(missing[:5])}"]


@dataclass
class ListReads:
    """The reads of one list for one step, and the verdict they add up to."""

    own: tuple[str, ...]
    reads: list[PagePass] = field(default_factory=list)
    once: set[str] = field(default_factory=set)  # own ids some read had exactly once

    def add(self, reading: PagePass) -> bool:
        """Take one finished read; whether the verdict is settled (no further read needed)."""
        self.reads.append(reading)
        self.once |= reading.read_once()
        # Wrong whoever else writes, or a read nobody disturbed: judged exactly. A disturbed read
        # that had every own resource once is read again all the same: a steady read would show
        # a gap or an overlap the shifting hid.
        return bool(reading.shape) or reading.steady or len(self.reads) >= PASSES

    def reasons(self) -> list[str]:
        """Why the step fails; empty when it passes."""
        last = self.reads[-1]
        if last.shape:
            # The paging is broken whatever else happened: with it, what else an import gets wrong.
            missing = [rid for rid in self.own if rid not in last.seen]
            return last.shape + [why for _, why in last.overlaps] + _missing(missing, last)
        if last.steady:
            return last.exact_problems()
        slipped = [rid for rid in self.own if rid not in self.once]
        if not slipped:
            return []
        totals = [total for reading in self.reads for total in reading.totals]
        return [*(why for rid, why in last.overlaps if rid in slipped),
                *_missing([rid for rid in slipped if rid not in last.seen], last),
                f"in none of {len(self.reads)} reads (totalResults moving between {min(totals)} and "
                f"{max(totals)}) was each resource this scenario created read exactly once; other "
                "clients' changes between pages would not do that every time"]
