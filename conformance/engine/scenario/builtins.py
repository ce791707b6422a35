"""What a template may read of the built-in names (run_id, fake, idp, target): a `lint` check.

Without it `${fake}`, `${fake.uuid}` or `${run_id.upper}` pass `lint` (the names are defined) and
render a Python object or method at run time, which no request body can carry.
"""

from __future__ import annotations

from collections.abc import Mapping

from conformance.engine.templating import FUNCTIONS, Attr, Call, Expr, Index, Name, parse_template

__all__ = ["builtin_misuse"]


def builtin_misuse(text: str, offers: Mapping[str, frozenset[str] | None]) -> list[str]:
    """What the templates of `text` read from a built-in that it does not offer, one message each.

    `offers` maps each built-in name to the keys it has (none for text such as run_id), or to None
    for one that is only called (fake: `fake.user()`), never a value itself.
    """
    problems: list[str] = []
    for part in parse_template(text):
        if not isinstance(part, str):
            _misuse_in(part, offers, problems)
    return problems


def _misuse_in(expr: Expr, offers: Mapping[str, frozenset[str] | None], problems: list[str]) -> None:
    if isinstance(expr, Call):
        for arg in expr.args:
            _misuse_in(arg, offers, problems)
        return
    read = expr.base if isinstance(expr, Attr | Index) else expr
    if not isinstance(read, Name):
        if isinstance(read, Attr | Index | Call):
            _misuse_in(read, offers, problems)
        return
    if read.name not in offers:
        return
    keys = offers[read.name]
    key = expr.name if isinstance(expr, Attr) else expr.key if isinstance(expr, Index) else None
    shown = read.name if key is None else f"{read.name}.{key}" if isinstance(key, str) else f"{read.name}[{key}]"
    if keys is None:
        calls = " or ".join(f"{name}()" for name in sorted(FUNCTIONS) if name.startswith(f"{read.name}."))
        problems.append(f"${{{shown}}}: {read.name} is not a value, it is only called: {calls}")
    elif key is not None and key not in keys:
        has = f"keys: {', '.join(sorted(keys))}" if keys else "it is text"
        problems.append(f"${{{shown}}}: {read.name} has no {key!r} ({has})")
