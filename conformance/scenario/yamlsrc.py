"""YAML reading that remembers where every value came from.

Validation errors must name `path:line`. PyYAML's composer keeps marks on nodes, so we compose
the document, build plain Python values from it, and keep a `SourceMap` from JSON-pointer-like
paths (tuples of keys and indexes) to 1-based line numbers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conformance.errors import Problem, ScenarioFileError

__all__ = ["SourceMap", "YamlDocument", "load_yaml", "strings_with_pointers"]

Pointer = tuple[str | int, ...]


@dataclass
class SourceMap:
    """Line numbers of every mapping key and sequence item in one file."""

    path: Path
    lines: dict[Pointer, int] = field(default_factory=dict)

    def line_of(self, pointer: Pointer) -> int:
        """Line of `pointer`, or of its nearest ancestor that has one."""
        pointer = tuple(pointer)
        while pointer:
            if pointer in self.lines:
                return self.lines[pointer]
            pointer = pointer[:-1]
        return self.lines.get((), 1)

    def problem(self, pointer: Pointer, message: str) -> Problem:
        return Problem(self.path, self.line_of(pointer), message)


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file and where each of its values stands."""

    data: Any
    source: SourceMap


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (a silent overwrite hides a scenario bug)."""


def _build(node: yaml.Node, pointer: Pointer, source: SourceMap, loader: _StrictLoader) -> Any:
    source.lines[pointer] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                raise ScenarioFileError(
                    [Problem(source.path, key_node.start_mark.line + 1, f"duplicate key {key!r}")]
                )
            child = (*pointer, key)
            result[key] = _build(value_node, child, source, loader)
            source.lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*pointer, i), source, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_yaml(path: Path) -> YamlDocument:
    """Parse one YAML file; any syntax problem becomes a `ScenarioFileError` with its line."""
    source = SourceMap(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioFileError([Problem(path, 0, f"cannot read file: {exc}")]) from None
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ScenarioFileError([Problem(path, 1, "file is empty")])
        data = _build(node, (), source, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        reason = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise ScenarioFileError([Problem(path, line, f"invalid YAML: {reason}")]) from None
    except yaml.YAMLError as exc:
        raise ScenarioFileError([Problem(path, 0, f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    return YamlDocument(data, source)


def strings_with_pointers(value: Any, pointer: Pointer = ()) -> Iterator[tuple[Pointer, str]]:
    """Every string inside `value` (mapping keys included) with the pointer of where it stands."""
    if isinstance(value, str):
        yield pointer, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield (*pointer, key), str(key)
            yield from strings_with_pointers(item, (*pointer, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings_with_pointers(item, (*pointer, index))
