"""The load replay's report: the JSON document (for plotting) and the summary printed for a person."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from conformance import __version__
from conformance.engine.profiles import IdpProfile
from conformance.loadtest.stats import PhaseStats, is_ok, latency_summary, phase_summary

if TYPE_CHECKING:
    from conformance.loadtest.cycle import LoadOptions, LoadRun

__all__ = ["build_report", "render_report"]


def build_report(run: LoadRun, idp: IdpProfile, options: LoadOptions, *, run_id: str, where: str,
                 started_at: dt.datetime, provisioning_s: float, cleanup: dict[str, Any]) -> dict[str, Any]:
    """The report of a finished run: parameters, totals, each phase, cleanup (updated in place), samples."""
    merged, samples = run.merged()
    phases = [phase_summary(p.name, merged.get(p.name, PhaseStats()), p.ended - p.started) for p in run.phases]
    total = PhaseStats()
    for p in run.phases:
        total.merge(merged.get(p.name, PhaseStats()))
    cleanup_stats = merged.get("cleanup", PhaseStats())
    cleanup.update({k: v for k, v in phase_summary("cleanup", cleanup_stats, cleanup.get("elapsed_s")).items()
                    if k in ("requests", "throughput_rps", "latency_ms", "statuses", "errors")})
    requests = sum(total.statuses.values())
    return {
        "tool": f"scim-conformance load {__version__}",
        "started_at": started_at.isoformat(timespec="seconds"),
        "target": where, "idp": idp.id, "run_id": run_id,
        "parameters": {"users": options.users, "groups": options.groups, "members": options.members,
                       "batch": options.batch, "updates": options.updates, "concurrency": options.concurrency,
                       "duration_s": options.duration},
        "completed": run.stopped_reason is None,
        "stopped": run.stopped_reason,
        "elapsed_s": round(provisioning_s, 3),
        "requests": requests,
        "throughput_rps": round(requests / provisioning_s, 1) if provisioning_s > 0 else None,
        "latency_ms": latency_summary(total.latencies),
        "statuses": dict(sorted(total.statuses.items())),
        "errors": {k: v for k, v in sorted(total.statuses.items()) if not is_ok(k)},
        "created": {"users": sum(map(bool, run.created_users)), "groups": sum(map(bool, run.created_groups)),
                    "memberships": run.memberships},
        "existing": dict(run.existing),
        # Create answers whose id named a resource without the run's name: never updated or removed.
        "not_the_runs": dict(run.not_ours),
        "phases": phases,
        "cleanup": cleanup,
        "error_samples": samples,
        "notes": run.t.notes,
    }


def render_report(report: dict[str, Any]) -> str:
    """The summary for a person: a table of the phases, then created, statuses, errors, cleanup."""

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    lines = ["", f"  {'phase':<9} {'requests':>9} {'seconds':>8} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} "
             f"{'p99 ms':>8} {'errors':>7}"]
    rows = [*report["phases"], {"phase": "total", **{k: report[k] for k in ("requests", "throughput_rps",
                                                                           "latency_ms", "errors")},
                                "elapsed_s": report["elapsed_s"]}]
    for row in rows:
        latency = row["latency_ms"]
        lines.append(f"  {row['phase']:<9} {row['requests']:>9} {row['elapsed_s'] or 0:>8.2f} "
                     f"{row['throughput_rps'] or 0:>9,.1f} {ms(latency['p50']):>8} {ms(latency['p95']):>8} "
                     f"{ms(latency['p99']):>8} {sum(row['errors'].values()):>7}")
    created = report["created"]
    lines += ["", f"Created:   {created['users']} users, {created['groups']} groups, "
                  f"{created['memberships']} memberships"
              + (f" (already there, not touched: {report['existing']})" if report["existing"] else "")]
    if report.get("not_the_runs"):
        lines.append(f"Refused:   create answers naming a resource without this run's name, left alone: "
                     f"{report['not_the_runs']}")
    lines.append("Statuses:  " + (", ".join(f"{k}: {v}" for k, v in report["statuses"].items()) or "none"))
    lines.append("Errors:    " + (", ".join(f"{k}: {v}" for k, v in report["errors"].items()) or "none"))
    for sample in report["error_samples"][:3]:
        detail = " ".join(str(sample.get(k, "")) for k in ("scimType", "detail")).strip()
        lines.append(f"  e.g. {sample['phase']} {sample['request']} -> {sample['status']}"
                     + (f": {detail}" if detail else ""))
    if report["stopped"]:
        lines.append(f"Stopped:   {report['stopped']} (the rest of the cycle was not sent)")
    for note in report.get("notes", []):
        lines.append(f"Note:      {note}")
    cleanup = report["cleanup"]
    outcome = ", ".join(f"{k}: {v}" for k, v in cleanup["outcome"].items()) or "nothing to remove"
    lines.append(f"Cleanup:   {outcome} in {cleanup.get('elapsed_s') or 0:.2f}s"
                 + ("" if cleanup["complete"] else
                    f"; NOT complete: run `scim-conformance cleanup --target T --run-id {report['run_id']}`"))
    return "\n".join(lines)

