"""The package's layout rules (issue: one layout a maintainer can read).

Folders by concern at the top level, no module a maintainer cannot read in one sitting, no import
cycle between the package's modules (lazy imports inside functions count: they cycle at run time),
and no private name of one module imported by another.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "conformance"
MAX_LINES = 500
CONCERNS = {"engine", "pytest_plugin", "reporting", "commands", "recording", "loadtest", "shipped"}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "shipped" in path.relative_to(PACKAGE).parts:
            continue
        parts = ["conformance", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) for every import of the package's own modules in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            skipped.update(id(child) for sub in node.body for child in ast.walk(sub))
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names if alias.name.startswith("conformance")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("conformance"):
            found.append((node.module, [alias.name for alias in node.names], node.lineno))
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for module, names, _ in _imports(path):
            targets = {f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES} or {module}
            graph[name] |= {t for t in targets if t in MODULES and t != name}
    return graph


def test_the_package_top_level_shows_its_concerns_as_folders() -> None:
    top = {p.name for p in PACKAGE.iterdir() if not p.name.startswith((".", "__pycache__"))}
    assert top - {"__init__.py", "__main__.py"} <= CONCERNS, sorted(top - CONCERNS)
    assert all((PACKAGE / concern).is_dir() for concern in CONCERNS)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_500_lines(name: str) -> None:
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name].relative_to(PACKAGE.parent)} has {lines} lines"


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle a depth-first walk meets, as a list of module names ending where it started."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            # A package's __init__ importing its own submodules is how a package re-exports.
            if node == nxt.rpartition(".")[0]:
                continue
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_no_import_cycle() -> None:
    cycles = find_cycles(_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_cycle_check_finds_a_lazy_three_module_cycle() -> None:
    """The check can fail: a cycle through three modules, and a package re-exporting its own module is none."""
    graph = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p": {"p.a"}}
    assert find_cycles(graph) == [["p.a", "p.b", "p.c", "p.a"]]


def test_no_private_name_is_imported_from_another_module() -> None:
    offences = []
    for name, path in MODULES.items():
        for module, names, line in _imports(path):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and module != name:
                offences.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {module}.{', '.join(private)}")
    assert not offences, "\n".join(offences)


def test_no_file_points_outside_the_repository() -> None:
    """Facts live in docs/ with their public sources: nothing cites a document a user cannot open."""
    repo = PACKAGE.parent
    outside = ("IDP" + "-WIRE", "../" + "shared")  # spelt in pieces: this file is scanned too
    offences = []
    for folder in ("conformance", "scenarios", "profiles", "docs", "tests", "bench"):
        for path in sorted((repo / folder).rglob("*")):
            if not path.is_file() or path.suffix not in {".py", ".md", ".yaml", ".yml", ".json", ".txt", ".toml"}:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            offences += [f"{path.relative_to(repo)}: {word}" for word in outside if word in text]
    offences += [f"README.md: {word}" for word in outside if word in (repo / "README.md").read_text(encoding="utf-8")]
    assert not offences, "\n".join(offences)
