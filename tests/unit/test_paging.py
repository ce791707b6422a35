"""The paging verdict (conformance/engine/paging.py) on lists built page by page.

A list is simulated as the server would slice it at each request: `pages` takes the ordering of
the ids at the moment each page is asked for, so other clients' inserts and deletes between two
pages shift what the next page holds, as they do on a real server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conformance.engine.paging import PASSES, ListReads, PagePass

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def _page(ids: list[str], start: int, count: int, **override: Any) -> dict[str, Any]:
    chunk = ids[start - 1:start - 1 + count]
    return {"schemas": [LIST], "totalResults": len(ids), "startIndex": start, "itemsPerPage": len(chunk),
            "Resources": [{"id": rid} for rid in chunk], **override}


def _read(own: list[str], answer: Callable[[int, int], dict[str, Any]]) -> PagePass:
    """One read, two per page, through `answer(page_number, startIndex)`."""
    reading = PagePass(tuple(own), 2, 50)
    while reading.start is not None:
        reading.read(answer(reading.page + 1, reading.start))
    return reading


def _verdict(own: list[str], answer: Callable[[int, int, int], dict[str, Any]]) -> tuple[list[str], int]:
    """Reads until settled through `answer(read_number, page_number, startIndex)`; (reasons, reads)."""
    reads = ListReads(tuple(own))
    for number in range(1, PASSES + 1):
        if reads.add(_read(own, lambda page, start, n=number: answer(n, page, start))):
            break
    return reads.reasons(), len(reads.reads)


OWN = ["own-1", "own-2", "own-3"]
OTHERS = [f"other-{n}" for n in range(1, 8)]
ALL = sorted(OWN + OTHERS)


def test_a_steady_correct_list_passes_in_one_read():
    assert _verdict(OWN, lambda n, page, start: _page(ALL, start, 2)) == ([], 1)


def test_a_steady_list_that_overlaps_fails_at_once():
    # startIndex read as 0-based, but echoed as asked: the shape looks right, the pages overlap.
    reasons, reads = _verdict(OWN, lambda n, page, start: {**_page(ALL, max(start - 1, 1), 2), "startIndex": start})
    assert reads == 1
    assert any("pages overlap" in reason for reason in reasons)


def test_a_steady_list_that_skips_fails_with_the_count_and_the_missed_resources():
    # Each page after the first starts one too late: one resource per page boundary is never read.
    reasons, _ = _verdict(OWN, lambda n, page, start: {**_page(ALL, start + (page > 1), 2), "startIndex": start})
    assert any("distinct resources" in reason and "totalResults is 10" in reason for reason in reasons)


def test_a_list_whose_total_is_below_the_runs_own_count_fails_on_its_shape():
    reasons, reads = _verdict(OWN, lambda n, page, start: _page(ALL, start, 2, totalResults=2))
    assert reads == 1
    assert "page 1: totalResults is 2, fewer than the 3 resources this scenario created" in reasons


def test_an_id_twice_on_one_page_fails_on_its_shape():
    reasons, _ = _verdict(OWN, lambda n, page, start: _page(["own-1", "own-1", *ALL], start, 2))
    assert "page 1: id own-1 is listed twice on the page" in reasons


def test_others_writing_between_pages_do_not_fail_a_correct_server():
    # Read 1: another client inserts a resource ahead of the reader before every page, so the
    # item at each page boundary comes back again and totalResults grows. Read 2 is quiet.
    def answer(n: int, page: int, start: int) -> dict[str, Any]:
        ids = [f"aaa-new-{k:02d}" for k in range(page - 1)] + ALL if n == 1 else ALL
        return _page(ids, start, 2)

    assert _verdict(OWN, answer) == ([], 2)


def test_a_busy_server_that_keeps_skipping_an_own_resource_fails_after_every_read():
    # totalResults moves on every read (others keep writing), and own-2 is never returned.
    def answer(n: int, page: int, start: int) -> dict[str, Any]:
        ids = [rid for rid in ALL if rid != "own-2"]
        return _page(ids, start, 2, totalResults=len(ids) + page)

    reasons, reads = _verdict(OWN, answer)
    assert reads == PASSES
    assert any("1 of the 3 resources this scenario created were not among" in reason for reason in reasons)
    assert any(f"in none of {PASSES} reads" in reason for reason in reasons)


def test_a_server_that_never_stops_changing_passes_when_each_own_resource_had_one_clean_read():
    # Every read is disturbed, but each own resource comes back exactly once in some read.
    def answer(n: int, page: int, start: int) -> dict[str, Any]:
        ids = [rid for rid in ALL if rid != f"own-{n}"]
        return _page(ids, start, 2, totalResults=len(ids) + page)

    assert _verdict(OWN, answer) == ([], PASSES)


def test_a_read_that_was_disturbed_is_followed_by_a_steady_one_that_shows_a_gap():
    # Read 1 is disturbed (totalResults moves) and happens to have every own resource once; read
    # 2 is steady and shows the server skipping a resource at each page boundary.
    def answer(n: int, page: int, start: int) -> dict[str, Any]:
        if n == 1:
            return _page(ALL, start, 2, totalResults=len(ALL) + page)
        return {**_page(ALL, start + (page > 1), 2), "startIndex": start}

    reasons, reads = _verdict(OWN, answer)
    assert reads == 2
    assert any("distinct resources" in reason for reason in reasons)


def test_a_wrong_start_index_settles_the_verdict_at_once_and_names_the_overlaps_too():
    def answer(n: int, page: int, start: int) -> dict[str, Any]:
        return _page(ALL, 1, 2, totalResults=len(ALL) + page)  # every page is the first one

    reasons, reads = _verdict(OWN, answer)
    assert reads == 1
    assert "page 2: asked for startIndex=3, the answer says startIndex=1" in reasons
    assert any("pages overlap" in reason for reason in reasons)
