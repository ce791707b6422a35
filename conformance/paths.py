"""Where the shipped scenarios and profiles are: the nearest folder of that name, else ours."""

from __future__ import annotations

from pathlib import Path

from conformance.errors import HarnessError

__all__ = ["find_profiles_dir", "find_scenarios_dir"]

_PROJECT = Path(__file__).resolve().parent.parent


def _nearest(name: str, start: Path | None, marker: str) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / name
        if (candidate / marker).exists():
            return candidate
    shipped = _PROJECT / name
    return shipped if (shipped / marker).exists() else None


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
