"""The one nesting limit for JSON from outside: exact at the limit, strings are text, never a recursion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.engine.exchange import NOT_JSON, Received
from conformance.engine.jsondepth import MAX_JSON_DEPTH, TOO_DEEP, TooDeep, loads, too_deep
from conformance.engine.redact import Redactor
from conformance.loadtest.client import Answer
from conformance.recording import traffic
from conformance.recording.har import HarError, read_har


def _nested(levels: int) -> str:
    """Objects and arrays alternating, `levels` deep, around one value."""
    return '{"a":[' * (levels // 2) + ('{"a":1}' if levels % 2 else "1") + "]}" * (levels // 2)


@pytest.mark.parametrize("levels", [1, 2, MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH])
def test_json_up_to_the_limit_parses(levels: int):
    text = _nested(levels)
    assert not too_deep(text)
    assert loads(text) == json.loads(text)


@pytest.mark.parametrize("text", [_nested(MAX_JSON_DEPTH + 1), "[" * 1000 + "]" * 1000, "[" * 100_000,
                                  '{"a":' * 1000 + "1" + "}" * 999])
def test_deeper_json_is_refused_before_anything_recurses(text: str):
    assert too_deep(text) and too_deep(text.encode())
    with pytest.raises(TooDeep, match=TOO_DEEP):
        loads(text)


@pytest.mark.parametrize("text", ['["' + "[" * 1000 + '"]', '["\\"' + "{" * 100 + '"]', '["' + "[" * 100,
                                  "[" + ",".join(["[1]"] * 1000) + "]"])
def test_brackets_inside_strings_and_wide_bodies_are_not_depth(text: str):
    assert not too_deep(text)


def test_a_received_answer_names_the_depth_and_redaction_shows_it_as_text():
    deep = "[" * 1000 + "]" * 1000
    received = Received(200, "OK", (), deep, NOT_JSON, 1.0)
    assert received.json_problem == TOO_DEEP
    assert Received(200, "OK", (), "not json", NOT_JSON, 1.0).json_problem is None
    assert Redactor().body(deep) == deep


def test_the_load_test_and_the_recorder_read_a_deep_answer_as_not_json(tmp_path: Path):
    deep = b"[" * 1000 + b"]" * 1000
    assert Answer(200, deep, 1.0).json() is None
    assert traffic.json_body(deep) is traffic.NOT_JSON
    har = tmp_path / "deep.har"
    har.write_bytes(b'{"log": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    with pytest.raises(HarError, match="not JSON"):
        read_har(har)
