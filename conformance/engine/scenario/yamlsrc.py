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

from conformance.engine.errors import Problem, ScenarioFileError

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


MAX_FILE_BYTES = 1024 * 1024  # the largest shipped file is a few kB
MAX_VALUES = 100_000  # mappings, sequences and scalars, once aliases are expanded


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, used node by node: `_build` refuses duplicate keys (a silent overwrite
    hides a scenario bug) and bounds alias expansion."""


# libyaml composes a document about ten times faster than PyYAML's pure-Python parser (most of
# the collection time of the shipped suite), and its nodes carry the same marks. PyYAML's own
# parser words errors better ("found character '\t'", "nested too deep"), so a file libyaml
# refuses is read again with it for the message. Without libyaml, PyYAML's parser does it all.
_FastLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", _StrictLoader)


@dataclass
class _Budget:
    """Bounds the expansion of aliases: a billion-laughs file stops here, not in the kernel's OOM killer."""

    values: int = 0
    open: set[int] = field(default_factory=set)  # ids of the nodes being built, for recursive aliases


def _build(node: yaml.Node, pointer: Pointer, source: SourceMap, loader: _StrictLoader, budget: _Budget) -> Any:
    line = node.start_mark.line + 1
    budget.values += 1
    if budget.values > MAX_VALUES:
        raise ScenarioFileError([Problem(source.path, line, f"more than {MAX_VALUES} values once YAML aliases "
                                         "are expanded (an alias bomb?)")])
    if id(node) in budget.open:
        raise ScenarioFileError([Problem(source.path, line, "recursive YAML alias: a value contains itself")])
    budget.open.add(id(node))
    try:
        return _build_node(node, pointer, source, loader, budget)
    finally:
        budget.open.discard(id(node))


_STR_TAG = "tag:yaml.org,2002:str"


def _build_node(node: yaml.Node, pointer: Pointer, source: SourceMap, loader: _StrictLoader, budget: _Budget) -> Any:
    source.lines[pointer] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if key_node.tag == _STR_TAG else loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                raise ScenarioFileError(
                    [Problem(source.path, key_node.start_mark.line + 1, f"duplicate key {key!r}")]
                )
            child = (*pointer, key)
            result[key] = _build(value_node, child, source, loader, budget)
            source.lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*pointer, i), source, loader, budget) for i, item in enumerate(node.value)]
    if node.tag == _STR_TAG:
        return node.value  # what the constructor returns for a string, without its bookkeeping
    return loader.construct_object(node, deep=True)


def load_yaml(path: Path) -> YamlDocument:
    """Parse one YAML file; any syntax problem becomes a `ScenarioFileError` with its line."""
    source = SourceMap(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioFileError([Problem(path, 0, f"cannot read file: {exc}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioFileError([Problem(path, 1, f"file is larger than {MAX_FILE_BYTES // 2**20} MB "
                                         f"({len(raw) / 2**20:.1f} MB): scenario and profile files are small")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioFileError([Problem(path, line, f"cannot read file: byte 0x{raw[exc.start]:02x} is not "
                                         "UTF-8; save the file as UTF-8")]) from None
    if _FastLoader is not _StrictLoader:
        try:
            return YamlDocument(_parse(text, path, source, _FastLoader), source)
        except _YamlSyntaxError as fast_error:
            # Our own checks (duplicate key, alias bomb) word it the same with either parser;
            # a syntax error is read again for PyYAML's wording, and libyaml's stands if PyYAML
            # somehow accepts the file.
            _parse(text, path, SourceMap(path), _StrictLoader)
            raise ScenarioFileError(fast_error.problems) from None
    data = _parse(text, path, source, _StrictLoader)
    return YamlDocument(data, source)


class _YamlSyntaxError(ScenarioFileError):
    """A document the YAML parser refused (as opposed to one of our own checks)."""


def _parse(text: str, path: Path, source: SourceMap, loader_class: type[yaml.SafeLoader]) -> Any:
    """Compose `text` with `loader_class` and build plain values, filling `source`."""
    loader: Any = None
    try:
        loader = loader_class(text)  # the reader checks every character here
        node = loader.get_single_node()
        if node is None:
            raise ScenarioFileError([Problem(path, 1, "file is empty")])
        return _build(node, (), source, loader, _Budget())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        reason = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise _YamlSyntaxError([Problem(path, line, f"invalid YAML: {reason}")]) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        character = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise _YamlSyntaxError([Problem(path, line, f"invalid YAML: unacceptable character "
                                        f"{character}: {exc.reason}")]) from None
    except yaml.YAMLError as exc:
        raise _YamlSyntaxError([Problem(path, 0, f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise _YamlSyntaxError([Problem(path, 1, "invalid YAML: nested too deep "
                                        "(or a merge key that includes itself)")]) from None
    finally:
        if loader is not None:
            loader.dispose()


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
