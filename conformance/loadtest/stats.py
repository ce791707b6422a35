"""The load replay's statistics: per-thread recorders of statuses and latencies, merged per phase.

Each sending thread has its own `Recorder` (no lock on the hot path); the phases' figures are
merged when the run ends and summarised as request counts, throughput, nearest-rank latency
percentiles and errors by status.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MAX_ERROR_SAMPLES",
    "PhaseStats",
    "Recorder",
    "is_ok",
    "latency_summary",
    "percentile",
    "phase_summary",
    "rounded",
]

MAX_ERROR_SAMPLES = 10


def percentile(sorted_values: Any, q: float) -> float | None:
    """The nearest-rank percentile `q` (0..100) of already sorted values; None when empty."""
    n = len(sorted_values)
    if not n:
        return None
    rank = max(1, min(n, int(-(-q * n // 100))))  # ceil(q/100 * n)
    return float(sorted_values[rank - 1])


def rounded(value: float | None, digits: int = 2) -> float | None:
    """`value` rounded for the report; None stays None."""
    return None if value is None else round(value, digits)


def latency_summary(values: Any) -> dict[str, float | None]:
    """p50, p95, p99, max and mean of latencies in milliseconds (None each when there are none)."""
    ordered = sorted(values)
    return {
        "p50": rounded(percentile(ordered, 50)), "p95": rounded(percentile(ordered, 95)),
        "p99": rounded(percentile(ordered, 99)), "max": rounded(ordered[-1] if ordered else None),
        "mean": rounded(sum(ordered) / len(ordered) if ordered else None),
    }


def is_ok(status: str) -> bool:
    """A 2xx status; transport errors are counted as `error: <kind>`."""
    return status[:1] == "2"


@dataclass
class PhaseStats:
    """The latencies and the counts by status of one phase (of one thread, or merged)."""

    latencies: array = field(default_factory=lambda: array("d"))
    statuses: Counter[str] = field(default_factory=Counter)

    def merge(self, other: PhaseStats) -> None:
        self.latencies.extend(other.latencies)
        self.statuses.update(other.statuses)


class Recorder:
    """Per-thread counters, merged when the phase ends (no lock on the hot path)."""

    def __init__(self) -> None:
        self.phases: dict[str, PhaseStats] = {}
        self.samples: list[dict[str, Any]] = []

    def record(self, phase: str, status: str, elapsed_ms: float | None) -> None:
        stats = self.phases.get(phase)
        if stats is None:
            stats = self.phases[phase] = PhaseStats()
        stats.statuses[status] += 1
        if elapsed_ms is not None:
            stats.latencies.append(elapsed_ms)


def phase_summary(name: str, stats: PhaseStats, seconds: float | None) -> dict[str, Any]:
    """One phase's row of the report: requests, seconds, throughput, latency, statuses and errors."""
    requests = sum(stats.statuses.values())
    return {
        "phase": name, "requests": requests,
        "elapsed_s": rounded(seconds, 3),
        "throughput_rps": rounded(requests / seconds if seconds else None, 1),
        "latency_ms": latency_summary(stats.latencies),
        "statuses": dict(sorted(stats.statuses.items())),
        "errors": {k: v for k, v in sorted(stats.statuses.items()) if not is_ok(k)},
    }
