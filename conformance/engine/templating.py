"""`${...}` expressions in scenario and profile values: parsing, static name checks, rendering.

The language is deliberately small (no Python in YAML):

    ${name}                 a variable, a capture, or a built-in (run_id, fake, idp, target)
    ${user.userName}        attribute / key access
    ${resources[0].id}      index access (integers or quoted keys)
    ${fake.user()}          call of a registered function (see FUNCTIONS at the end)
    ${lower(user.userName)} arguments are expressions or 'quoted' / "quoted" strings or integers
    $${                     a literal "${"

A value that is exactly one expression keeps its type (a dict stays a dict); an expression inside
a longer string is formatted as JSON scalars are (true/false/null) and joined as text.

`render` renders a value once; `CompiledTemplate` parses a value once and renders it for many
scopes with the same result (the load replay sends thousands of requests from one template).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FUNCTIONS",
    "CompiledTemplate",
    "Expr",
    "TemplateError",
    "parse_template",
    "referenced_names",
    "render",
    "render_parts",
]


class TemplateError(Exception):
    """A template that cannot be parsed or evaluated; the message says which part and why."""


# --- parsing -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Attr:
    base: Expr
    name: str


@dataclass(frozen=True)
class Index:
    base: Expr
    key: str | int


@dataclass(frozen=True)
class Call:
    function: str  # dotted name, e.g. "fake.user"
    args: tuple[Expr, ...]


Expr = Name | Literal | Attr | Index | Call

_TOKEN = re.compile(
    r"\s*(?:(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<int>-?\d+)|'(?P<sq>[^']*)'|\"(?P<dq>[^\"]*)\""
    r"|(?P<punct>[.\[\](),]))"
)


def _tokens(text: str) -> list[tuple[str, Any]]:
    pos, out = 0, []
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            raise TemplateError(f"unexpected {text[pos:].strip()[:20]!r} in ${{{text}}}")
        kind = match.lastgroup or ""
        value: Any = match.group(kind)
        if kind == "int":
            value = int(value)
        elif kind in ("sq", "dq"):
            kind = "str"
        out.append((kind, value))
        pos = match.end()
    return out


# JSON's constants, so that `${set(current, 'active', false)}` can say what it means.
_CONSTANTS = {"true": True, "false": False, "null": None}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, punct: str | None = None) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None or (punct is not None and tok != ("punct", punct)):
            want = repr(punct) if punct else "more"
            raise TemplateError(f"expected {want} in ${{{self.text}}}")
        self.i += 1
        return tok

    def parse(self) -> Expr:
        if not self.toks:
            raise TemplateError("empty expression ${}")
        expr = self.expr()
        if self.peek() is not None:
            raise TemplateError(f"unexpected {self.peek()[1]!r} in ${{{self.text}}}")
        return expr

    def expr(self) -> Expr:
        kind, value = self.take()
        if kind == "int" or kind == "str":
            return Literal(value)
        if kind != "ident":
            raise TemplateError(f"unexpected {value!r} in ${{{self.text}}}")
        if value in _CONSTANTS and self.peek() not in (("punct", "."), ("punct", "(")):
            return Literal(_CONSTANTS[value])
        node: Expr = Name(value)
        while (tok := self.peek()) is not None:
            if tok == ("punct", "."):
                self.take()
                kind, attr = self.take()
                if kind != "ident":
                    raise TemplateError(f"expected a name after '.' in ${{{self.text}}}")
                node = Attr(node, attr)
            elif tok == ("punct", "["):
                self.take()
                kind, key = self.take()
                if kind not in ("int", "str"):
                    raise TemplateError(f"expected an index or 'key' in [] in ${{{self.text}}}")
                self.take("]")
                node = Index(node, key)
            elif tok == ("punct", "("):
                self.take()
                args: list[Expr] = []
                if self.peek() != ("punct", ")"):
                    args.append(self.expr())
                    while self.peek() == ("punct", ","):
                        self.take()
                        args.append(self.expr())
                self.take(")")
                node = Call(_dotted(node, self.text), tuple(args))
            else:
                break
        return node


def _dotted(node: Expr, text: str) -> str:
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Attr):
        return f"{_dotted(node.base, text)}.{node.name}"
    raise TemplateError(f"only named functions can be called in ${{{text}}}")


_PLACEHOLDER = re.compile(r"\$\$\{|\$\{([^}]*)\}")


@functools.lru_cache(maxsize=4096)  # a run renders the same few thousand strings again and again
def parse_template(text: str) -> tuple[str | Expr, ...]:
    """Split a string into literal parts and parsed expressions (shared: do not change them)."""
    if "${" not in text:
        return (text,) if text else ()
    parts: list[str | Expr] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(text):
        parts.append(text[pos : match.start()])
        if match.group(0) == "$${":
            parts.append("${")
        else:
            parts.append(_Parser(match.group(1)).parse())
        pos = match.end()
    if "${" in text[pos:]:
        raise TemplateError(f"unclosed '${{' in {text!r}")
    parts.append(text[pos:])
    return tuple(p for p in parts if p != "")


# --- static checks -------------------------------------------------------------------------

def _expr_names(expr: Expr) -> Iterator[str]:
    if isinstance(expr, Name):
        yield expr.name
    elif isinstance(expr, Attr | Index):
        yield from _expr_names(expr.base)
    elif isinstance(expr, Call):
        for arg in expr.args:
            yield from _expr_names(arg)


def _expr_calls(expr: Expr) -> Iterator[str]:
    if isinstance(expr, Attr | Index):
        yield from _expr_calls(expr.base)
    elif isinstance(expr, Call):
        yield expr.function
        for arg in expr.args:
            yield from _expr_calls(arg)


def _walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk_strings(key)
            yield from _walk_strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _walk_strings(item)


@functools.lru_cache(maxsize=4096)  # the same template strings come back in file after file
def _names_in(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """Root names and function names used by the templates of one string."""
    names: set[str] = set()
    calls: set[str] = set()
    for part in parse_template(text):
        if not isinstance(part, str):
            names.update(_expr_names(part))
            calls.update(_expr_calls(part))
    return frozenset(names), frozenset(calls)


def referenced_names(value: Any) -> tuple[set[str], set[str]]:
    """Root names and function names used by every template inside `value`.

    Raises TemplateError on a syntax error or an unknown function.
    """
    names: set[str] = set()
    calls: set[str] = set()
    for text in _walk_strings(value):
        text_names, text_calls = _names_in(text)
        names.update(text_names)
        calls.update(text_calls)
    unknown = sorted(c for c in calls if c not in FUNCTIONS)
    if unknown:
        raise TemplateError(
            f"unknown function {unknown[0]}(); known: {', '.join(sorted(FUNCTIONS))}"
        )
    # A function's root (e.g. "fake" of fake.user) is not a variable.
    return names, calls


# --- evaluation ----------------------------------------------------------------------------

def _lookup(base: Any, key: str | int, shown: str) -> Any:
    if isinstance(base, Mapping):
        if key in base:
            return base[key]
        raise TemplateError(f"{shown} has no key {key!r} (keys: {', '.join(map(str, base))})")
    if isinstance(base, list | tuple) and isinstance(key, int):
        if -len(base) <= key < len(base):
            return base[key]
        raise TemplateError(f"{shown}[{key}] is out of range (length {len(base)})")
    if isinstance(key, str) and hasattr(base, key) and not key.startswith("_"):
        return getattr(base, key)
    raise TemplateError(f"{shown} ({type(base).__name__}) has no {key!r}")


def _show(expr: Expr) -> str:
    if isinstance(expr, Name):
        return expr.name
    if isinstance(expr, Attr):
        return f"{_show(expr.base)}.{expr.name}"
    if isinstance(expr, Index):
        return f"{_show(expr.base)}[{expr.key!r}]"
    if isinstance(expr, Call):
        return f"{expr.function}(...)"
    return repr(expr.value)


def _evaluate(expr: Expr, scope: Mapping[str, Any]) -> Any:
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Name):
        if expr.name not in scope:
            raise TemplateError(f"undefined name {expr.name!r}")
        return scope[expr.name]
    if isinstance(expr, Attr):
        return _lookup(_evaluate(expr.base, scope), expr.name, _show(expr.base))
    if isinstance(expr, Index):
        return _lookup(_evaluate(expr.base, scope), expr.key, _show(expr.base))
    function = FUNCTIONS.get(expr.function)
    if function is None:
        raise TemplateError(f"unknown function {expr.function}()")
    args = [_evaluate(arg, scope) for arg in expr.args]
    try:
        return function(scope, *args)
    except TypeError:
        raise TemplateError(f"{expr.function}() does not take {len(args)} argument(s)") from None
    except ValueError as exc:
        raise TemplateError(f"{expr.function}(): {exc}") from None


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def render(value: Any, scope: Mapping[str, Any]) -> Any:
    """Render every template inside `value` (strings, dict keys and values, list items)."""
    if isinstance(value, str):
        parts = parse_template(value)
        if len(parts) == 1 and not isinstance(parts[0], str):
            return _evaluate(parts[0], scope)
        return "".join(p if isinstance(p, str) else _as_text(_evaluate(p, scope)) for p in parts)
    if isinstance(value, Mapping):
        rendered = {}
        for key, item in value.items():
            new_key = render(key, scope)
            if not isinstance(new_key, str | int | float | bool):
                raise TemplateError(f"key {key!r} renders to a {type(new_key).__name__}, not a string")
            rendered[new_key] = render(item, scope)
        return rendered
    if isinstance(value, list | tuple):
        return [render(item, scope) for item in value]
    return value


def render_parts(text: str, scope: Mapping[str, Any]) -> list[tuple[bool, Any]]:
    """A string template in order: (False, literal text) and (True, substituted value) pairs."""
    return [(False, p) if isinstance(p, str) else (True, _evaluate(p, scope)) for p in parse_template(text)]


# --- compiled templates --------------------------------------------------------------------
# `render` looks every string up in the parse cache and walks the value again on each call. A value
# rendered thousands of times per second (the load replay's request templates) is compiled once
# instead: the same rules, with the constant parts decided up front.

Renderer = Callable[[Mapping[str, Any]], Any]


class CompiledTemplate:
    """A value whose templates are parsed once, rendered with `render` semantics for each scope."""

    __slots__ = ("_render", "source")

    def __init__(self, value: Any) -> None:
        self.source = value
        self._render = _compile(value)

    def render(self, scope: Mapping[str, Any]) -> Any:
        return self._render(scope)


def _key_path(expr: Expr) -> tuple[str, ...] | None:
    """`a.b.c` as ("a", "b", "c"); None for anything else (indexes, calls, literals)."""
    if isinstance(expr, Name):
        return (expr.name,)
    if isinstance(expr, Attr):
        base = _key_path(expr.base)
        return None if base is None else (*base, expr.name)
    return None


def _compile_expr(expr: Expr) -> Renderer:
    path = _key_path(expr)
    if path is None:
        return lambda scope: _evaluate(expr, scope)

    def lookup(scope: Mapping[str, Any]) -> Any:
        current: Any = scope
        for name in path:
            if not isinstance(current, Mapping) or name not in current:
                return _evaluate(expr, scope)  # not a plain key path here: the evaluator says why or does it
            current = current[name]
        return current
    return lookup


def _compile(value: Any) -> Renderer:
    if isinstance(value, str):
        try:
            parts = parse_template(value)
        except TemplateError:
            return lambda scope: render(value, scope)  # reported when rendered, as `render` does
        if all(isinstance(p, str) for p in parts):
            text = "".join(parts)  # type: ignore[arg-type]
            return lambda scope: text
        if len(parts) == 1:
            return _compile_expr(parts[0])  # type: ignore[arg-type]
        pieces = [(p, None) if isinstance(p, str) else ("", _compile_expr(p)) for p in parts]
        return lambda scope: "".join(t if f is None else _as_text(f(scope)) for t, f in pieces)
    if isinstance(value, Mapping):
        if any(not isinstance(k, str) or "${" in k for k in value):
            return lambda scope: render(value, scope)  # templated keys: rare, checked by `render`
        items = [(k, _compile(v)) for k, v in value.items()]
        return lambda scope: {k: f(scope) for k, f in items}
    if isinstance(value, list | tuple):
        compiled = [_compile(item) for item in value]
        return lambda scope: [f(scope) for f in compiled]
    return lambda scope: value


# --- functions -----------------------------------------------------------------------------

def _needs(scope: Mapping[str, Any], name: str) -> Any:
    if name not in scope:
        raise TemplateError(f"{name} is not available here")
    return scope[name]


def _merge(base: Any, changes: Any) -> Any:
    """`base` with `changes` applied: mappings merged key by key, anything else replaced."""
    if isinstance(base, Mapping) and isinstance(changes, Mapping):
        merged = dict(base)
        for key, value in changes.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return changes


def _without(value: Any, *keys: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"the first argument must be a mapping, not {type(value).__name__}")
    return {k: v for k, v in value.items() if k not in keys}


def _set(value: Any, path: Any, new: Any) -> dict[str, Any]:
    """A copy of `value` with the (dotted) `path` set to `new`: `set(current, 'name.givenName', x)`."""
    if not isinstance(value, Mapping) or not isinstance(path, str):
        raise ValueError("expects (mapping, 'path', value)")
    head, _, rest = path.partition(".")
    copy = dict(value)
    copy[head] = _set(copy.get(head) if isinstance(copy.get(head), Mapping) else {}, rest, new) if rest else new
    return copy


def _members(ids: Any) -> list[dict[str, Any]]:
    """Group member objects as Okta sends them: `{"value": id}`, no `type`."""
    if not isinstance(ids, list | tuple):
        raise ValueError(f"expects a list of ids, not {type(ids).__name__}")
    return [{"value": i} for i in ids]


def _batch(items: Any, size: Any, number: Any) -> list[Any]:
    """The `number`-th (1-based) slice of `size` items: how an IdP splits a large change."""
    if not isinstance(items, list | tuple) or not isinstance(size, int) or not isinstance(number, int):
        raise ValueError("expects (list, size, number) with integers size and number")
    if size < 1 or number < 1:
        raise ValueError("size and number start at 1")
    return list(items[(number - 1) * size:number * size])


def _concat(*lists: Any) -> list[Any]:
    if not all(isinstance(item, list | tuple) for item in lists):
        raise ValueError("expects lists")
    return [item for items in lists for item in items]


def _quote(text: Any) -> str:
    """A SCIM filter string literal (RFC 7644 §3.4.2.2: a JSON string): quotes and backslashes escaped."""
    return json.dumps(str(text), ensure_ascii=False)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    # Every function receives the scope first: data generators live in the scope (`fake`),
    # so a run's uniqueness (run id, counters) is owned by the run, not by a global.
    "fake.user": lambda scope, *style: _needs(scope, "fake").user(*style),
    "fake.group": lambda scope: _needs(scope, "fake").group(),
    "uuid": lambda scope: _needs(scope, "fake").uuid(),
    "lower": lambda scope, text: str(text).lower(),
    "upper": lambda scope, text: str(text).upper(),
    "quote": lambda scope, text: _quote(text),
    "merge": lambda scope, base, changes: _merge(base, changes),
    "without": lambda scope, value, *keys: _without(value, *keys),
    "set": lambda scope, value, path, new: _set(value, path, new),
    "members": lambda scope, ids: _members(ids),
    "batch": lambda scope, items, size, number: _batch(items, size, number),
    "list": lambda scope, *values: list(values),
    "concat": lambda scope, *lists: _concat(*lists),
}
