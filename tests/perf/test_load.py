"""`scim-conformance load` against the embedded server: the report it writes, and a clean server after."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from conformance.engine.embedded import EmbeddedServer
from tests.perf.support import cli, contents, profile_for


def test_a_small_entra_cycle_reports_every_phase_and_leaves_the_server_as_it_was(
        scim_server: EmbeddedServer, scim_client: httpx.Client, tmp_path: Path):
    before = contents(scim_client)
    out = tmp_path / "load.json"
    result = cli("load", "--target", profile_for(scim_server.base_url, tmp_path), "--idp", "entra",
                 "--users", "50", "--groups", "3", "--members", "20", "--batch", "8", "--concurrency", "4",
                 "--duration", "20", "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text(encoding="utf-8"))

    assert report["idp"] == "entra" and report["completed"] is True and report["stopped"] is None
    assert report["created"] == {"users": 50, "groups": 3, "memberships": 60}
    phases = {p["phase"]: p for p in report["phases"]}
    assert list(phases) == ["users", "groups", "members", "updates"]
    # lookup, create and the GET that proves the id is the run's, per user and per group; 20 members
    # in batches of 8 = 3 PATCHes per group.
    assert phases["users"]["requests"] == 150 and phases["groups"]["requests"] == 9
    assert phases["members"]["requests"] == 9 and phases["updates"]["requests"] == 50
    assert report["requests"] == 218 == sum(report["statuses"].values())
    assert report["not_the_runs"] == {}
    assert report["errors"] == {} and report["error_samples"] == []
    assert set(report["statuses"]) <= {"200", "201", "204"}
    latency = report["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert report["throughput_rps"] > 0
    assert report["cleanup"]["complete"] is True
    assert report["cleanup"]["outcome"] == {"deleted groups": 3, "deleted users": 50}
    # The summary printed for a person carries the same facts.
    assert "p95 ms" in result.stdout and "Errors:    none" in result.stdout
    assert contents(scim_client) == before


def test_the_time_limit_stops_the_cycle_and_what_was_created_is_still_removed(
        scim_server: EmbeddedServer, scim_client: httpx.Client, tmp_path: Path):
    before = contents(scim_client)
    out = tmp_path / "load.json"
    result = cli("load", "--target", profile_for(scim_server.base_url, tmp_path), "--users", "100000",
                 "--groups", "2", "--concurrency", "4", "--duration", "1", "--out", str(out), "--no-progress")
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["completed"] is False and report["stopped"] == "time limit reached during users", result.stdout
    assert 0 < report["created"]["users"] < 100000 and report["created"]["groups"] == 0
    assert report["cleanup"]["complete"] is True and report["errors"] == {}
    assert result.returncode == 0, result.stdout + result.stderr
    assert contents(scim_client) == before


def test_an_unknown_idp_is_a_usage_error(tmp_path: Path):
    result = cli("load", "--target", "http://127.0.0.1:9/v2", "--idp", "nosuch", "--users", "1")
    assert result.returncode == 2 and "no such IdP profile" in result.stderr
