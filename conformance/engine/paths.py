"""Where scenarios and profiles are: the nearest folder of that name, else the shipped ones.

The shipped ones are the repository's top-level `scenarios/` and `profiles/` in a checkout (or an
editable install), and `conformance/shipped/scenarios` and `.../profiles` inside an installed
wheel (pyproject.toml maps them there).
"""

from __future__ import annotations

from pathlib import Path

from conformance.engine.errors import HarnessError

__all__ = ["default_scenario_paths", "find_profiles_dir", "find_scenarios_dir", "shipped_dir"]

_PROJECT = Path(__file__).resolve().parents[2]
_IN_WHEEL = Path(__file__).resolve().parents[1] / "shipped"
_MARKERS = {"scenarios": "shared", "profiles": "idp"}


def shipped_dir(name: str) -> Path | None:
    """The shipped `scenarios` or `profiles` folder: the checkout's, else the installed wheel's."""
    for candidate in (_PROJECT / name, _IN_WHEEL / name):
        if (candidate / _MARKERS[name]).is_dir():
            return candidate
    return None


def _nearest(name: str, start: Path | None, marker: str) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / name
        if (candidate / marker).exists():
            return candidate
    return shipped_dir(name)


def find_profiles_dir(start: Path | None = None) -> Path:
    """`profiles/` at or above `start` (default: the working directory), else the shipped one."""
    found = _nearest("profiles", start, "idp")
    if found is None:
        raise HarnessError("no profiles/idp folder found; pass --scim-profiles DIR")
    return found


def find_scenarios_dir(start: Path | None = None) -> Path:
    """`scenarios/` at or above `start`, else the shipped one."""
    found = _nearest("scenarios", start, "shared")
    if found is None:
        raise HarnessError("no scenarios/ folder found; name the scenario files or folders to run")
    return found


def default_scenario_paths(start: Path | None = None) -> list[Path]:
    """What a run replays when no path is given: the team's own `scenarios/` (the nearest one at
    or above `start` that holds scenario files) and the shipped scenarios, each once."""
    paths: list[Path] = []
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        own = folder / "scenarios"
        if own.is_dir() and any(own.rglob("*.scenario.yaml")):
            paths.append(own)
            break
    shipped = shipped_dir("scenarios")
    if shipped is not None and all(p.resolve() != shipped.resolve() for p in paths):
        paths.append(shipped)
    if not paths:
        raise HarnessError("no scenarios/ folder found; name the scenario files or folders to run")
    return paths
