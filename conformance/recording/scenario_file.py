"""The scenario file a recording becomes: where it may go, writing it, and telling the user about it.

Shared by `scim-conformance record` and `scim-conformance import`: both check `--out` and `--idp`
before they start, write the scenario the compiler builds, lint it, and print what was written
and how to replay it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

from conformance.recording.compiler import build_scenario, scenario_id_for
from conformance.recording.observed import Observed, Recording

__all__ = ["check_idp", "check_output", "lint_written", "report_written", "without_userinfo", "write_recording"]


def write_recording(
    exchanges: list[Observed],
    out: Path,
    *,
    base_url: str,
    idp: str,
    keep_values: bool,
    header: list[str],
    scenario_id: str | None = None,
    title: str | None = None,
) -> Recording:
    """Build the scenario and write it to `out` (folders created). Raises RecordingError."""
    recording = build_scenario(
        exchanges, base_url=base_url, scenario_id=scenario_id or scenario_id_for(out.name), idp=idp,
        keep_values=keep_values, title=title, header=header,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(recording.text, encoding="utf-8")
    return recording


def lint_written(out: Path) -> list[str]:
    """The lint problems of the written file (none expected), as `path:line: message` lines."""
    from conformance.engine.errors import ScenarioFileError
    from conformance.engine.paths import find_profiles_dir
    from conformance.engine.profiles import load_idp_profiles
    from conformance.engine.scenario.loader import load_scenario

    try:
        load_scenario(out, load_idp_profiles(find_profiles_dir(out.parent)))
    except ScenarioFileError as exc:
        return [str(problem) for problem in exc.problems]
    return []


def check_output(out: Path, force: bool) -> str | None:
    """Why `out` cannot be written, or None."""
    if not out.name.endswith(".scenario.yaml"):
        return f"--out {out}: a scenario file name must end in .scenario.yaml"
    if out.exists() and not force:
        return f"--out {out}: the file exists (pass --force to replace it)"
    return None


def check_idp(idp: str, out: Path) -> str | None:
    """Why `--idp` is not a known IdP profile, or None."""
    from conformance.engine.errors import HarnessError, ScenarioFileError
    from conformance.engine.paths import find_profiles_dir
    from conformance.engine.profiles import load_idp_profiles

    try:
        known = load_idp_profiles(find_profiles_dir(out.resolve().parent))
    except (HarnessError, ScenarioFileError) as exc:
        return f"cannot load the IdP profiles: {exc}"
    if idp not in known:
        return f"--idp {idp}: unknown IdP profile (known: {', '.join(sorted(known))})"
    return None


def report_written(recording: Recording, out: Path, seen: int, target_hint: str) -> int:
    """Print what was written and how to replay it; the exit status."""
    print(f"Wrote {out}: {recording.steps} step(s) from {seen} request(s)")
    for line in recording.left_out:
        print(f"  left out: {line}")
    for line in recording.notes:
        print(f"  note: {line}")
    problems = lint_written(out)
    if problems:
        print("lint found problems in the written file:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print("lint: no problems")
    print(f"Replay: scim-conformance run --target {target_hint} {out}")
    return 0


def without_userinfo(url: str) -> str:
    """`url` without `user:password@`, for what is printed or written."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
