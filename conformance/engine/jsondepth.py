"""The one nesting limit for JSON that comes from outside: deeper answers are not usable JSON.

SCIM resources are shallow: a User with an enterprise extension's manager is about five levels
deep, a ListResponse of them or a PATCH of them a few more. A body nested far deeper is a broken or
hostile server, and the code that parses and walks answers (json's decoder, redaction, checks,
jsonschema) recurses once per level: at around a thousand levels Python stops with a
RecursionError that would end the whole run. So the depth is measured before anything recurses,
and a body deeper than MAX_JSON_DEPTH is refused with TOO_DEEP as the finding.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

__all__ = ["MAX_JSON_DEPTH", "TOO_DEEP", "TooDeep", "loads", "too_deep"]

# Ten times what a SCIM message needs, far below where anything that walks it would recurse too deep.
MAX_JSON_DEPTH = 64
TOO_DEEP = f"not usable JSON: nested deeper than {MAX_JSON_DEPTH} levels"

# Strings (whose brackets are text, up to the end for one never closed) and everything else but
# brackets go; what is left is the shape.
_NOT_SHAPE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)|[^\[\]{}"]+', re.DOTALL)
_LEVEL = {"[": 1, "{": 1, "]": -1, "}": -1}


class TooDeep(ValueError):
    """A JSON text nested deeper than MAX_JSON_DEPTH (a ValueError, as any other text json refuses)."""

    def __init__(self) -> None:
        super().__init__(TOO_DEEP)


def too_deep(text: str | bytes) -> bool:
    """Whether `text` opens more than MAX_JSON_DEPTH arrays and objects at once (valid JSON or not).

    Without recursion and without a Python loop per character: strings go, the brackets left
    become +1 and -1, and the deepest point is the largest running sum.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if text.count("{") + text.count("[") <= MAX_JSON_DEPTH:
        return False  # most answers: too few brackets to be that deep
    shape = _NOT_SHAPE.sub("", text)
    return max(accumulate(map(_LEVEL.__getitem__, shape)), default=0) > MAX_JSON_DEPTH


def loads(text: str | bytes) -> Any:
    """`json.loads`, except that a text nested deeper than MAX_JSON_DEPTH raises TooDeep first."""
    if too_deep(text):
        raise TooDeep
    return json.loads(text)
