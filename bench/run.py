"""The benchmark: harness overhead, the scim2-tester baseline, parallel speedup, load, memory.

    .venv/bin/python bench/run.py [--out bench.json] [--skip-tester] [--rounds N] [--latency-ms MS]

Everything below runs in one go, bounded in time, against servers on 127.0.0.1:

1. Rounds (5 by default), each against a fresh embedded server (scim2-server): the full suite
   runs with the harness, as a user runs it (`scim-conformance run`, Allure results and JUnit
   XML included); every request it sent is recorded (bench/record_exchanges.py).
2. In the same round, bench/replay.py sends the same requests in the same order with one bare
   `httpx.Client` to the same server: the floor for this target. Ids the server hands out are
   mapped from the recorded run to the replay, so the replay does the same work. Both are
   programs of their own, timed from process start to exit. Overhead ratio = harness time /
   floor time, the median of the rounds (goal <= 1.2; this script exits 1 above 1.5). The ratio
   of the scenarios alone to the request loop alone (no start-up, no collection) is printed too.
3. scim2-tester (PyPI) checks a fresh server: wall time and requests/s of both tools.
4. Parallel speedup: the suite with `--workers 0` and `--workers 2`, target `embedded` (each
   worker starts its own server, so parallel scenarios never see each other's users); then the
   same against one server behind a proxy that holds every request `--latency-ms` (10 ms), as a
   target across a network, leaving out the scenarios that page through a whole collection.
5. Load: a bounded `scim-conformance load` against the server (throughput), and a 10,000-user
   load against a trivial loopback endpoint (bench/trivial_server.py): the client's own ceiling
   (must be >= 2,000 requests/s) and its peak memory.
6. Peak resident memory (ru_maxrss of the child process) of the full suite run and of the
   10,000-user load; this script exits 1 if either reaches 300 MB.

The figures and the machine they were measured on are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
BIN = Path(sys.executable).parent
CLI = str(BIN / "scim-conformance")
MAX_OVERHEAD = 1.5
GOAL_OVERHEAD = 1.2
MAX_RSS_MB = 300
MIN_CLIENT_RPS = 2000


# --- children -----------------------------------------------------------------------------------

def run_child(argv: list[str], *, env: dict[str, str], timeout: float, log: Path) -> dict[str, Any]:
    """Run `argv`, bounded by `timeout`; wall time, exit code, CPU time and peak RSS (wait4)."""
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.002)  # the wall time is known to within this
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # wait4 reaped it: tell Popen
    return {"code": process.returncode, "wall_s": wall, "rss_mb": usage.ru_maxrss / 1024,
            "cpu_s": usage.ru_utime + usage.ru_stime,  # with its children that it waited for
            "timed_out": wall > timeout, "output": log.read_text(encoding="utf-8", errors="replace")}


def child_env(token: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SCIM_CONFORMANCE_RUN_ID", "PYTEST_ADDOPTS")}
    return {**env, "SCIM_TOKEN": token, "PYTHONUNBUFFERED": "1", **extra}


def target_profile(base_url: str, folder: Path) -> Path:
    """The shipped embedded profile (capabilities, known deviations) pointed at a running server."""
    data = yaml.safe_load((REPO / "profiles" / "targets" / "embedded.yaml").read_text(encoding="utf-8"))
    data.pop("embedded", None)
    data["base_url"] = base_url
    path = folder / "bench-embedded.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def pytest_counts(output: str) -> str:
    lines = [line.strip("= ") for line in output.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    return lines[-1] if lines else "(no pytest summary)"


# --- one round: the harness, then the floor, against one fresh server ------------------------------

def overhead_round(number: int, rounds: int, tmp: Path, token: str) -> dict[str, Any]:
    """The full suite with the harness (requests recorded), then the floor program replaying them.

    Both are programs of their own, timed the same way: process start to exit (`run_child`).
    A fresh server each round, so every round does the same work.
    """
    from conformance.engine.embedded import start_embedded, stop_embedded

    folder = tmp / f"round{number}"
    folder.mkdir()
    server = start_embedded(token)
    try:
        env = child_env(token)
        profile = str(target_profile(server.base_url, folder))
        record = folder / "recorded.json"
        harness = run_child(
            [CLI, "run", "--target", profile, "--reports", str(folder / "reports"), "--",
             "-p", "record_exchanges", "-q"],
            env={**env, "BENCH_RECORD": str(record),
                 "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH), env.get("PYTHONPATH")]))},
            timeout=300, log=folder / "harness.log")
        recorded = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {"exchanges": []}
        floor = run_child([sys.executable, str(BENCH / "replay.py"), str(record)], env=env, timeout=300,
                          log=folder / "floor.log") if recorded["exchanges"] else None
    finally:
        stop_embedded(server)
    try:
        replayed = json.loads(floor["output"].strip().splitlines()[-1]) if floor else {}
    except (ValueError, IndexError):
        replayed = {}
    facts: dict[str, Any] = {
        "harness_s": round(harness["wall_s"], 3), "harness_exit": harness["code"],
        "harness_rss_mb": round(harness["rss_mb"], 1), "requests": len(recorded["exchanges"]),
        "harness_cpu_s": round(harness["cpu_s"], 3), "floor_cpu_s": round(floor["cpu_s"], 3) if floor else None,
        "collection_s": _r(recorded.get("collection_s")), "scenarios_s": _r(recorded.get("scenarios_s")),
        "pytest": pytest_counts(harness["output"]),
        "floor_s": round(floor["wall_s"], 3) if floor else None, "floor_loop_s": _r(replayed.get("loop_s")),
        "same_status": replayed.get("same_status"),
    }
    if floor and replayed:
        facts["ratio"] = round(harness["wall_s"] / floor["wall_s"], 3)
        facts["ratio_scenarios_only"] = round((recorded.get("scenarios_s") or 0) / replayed["loop_s"], 3)
    print(f"  round {number}/{rounds}: {facts['pytest']}; {facts['requests']} requests; harness "
          f"{facts['harness_s']:.2f}s (collection {_f(facts['collection_s'])}s, scenarios "
          f"{_f(facts['scenarios_s'])}s), floor {_f(facts['floor_s'])}s (request loop {_f(facts['floor_loop_s'])}s, "
          f"{facts['same_status']} answers with the recorded status): ratio {_f(facts.get('ratio'))}x; CPU time "
          f"harness {facts['harness_cpu_s']:.2f}s (with its attachment writer), floor {_f(facts['floor_cpu_s'])}s",
          flush=True)
    if not facts["requests"] or not replayed:
        print((harness["output"] + (floor["output"] if floor else ""))[-3000:])
    return facts


# --- parallel runs against a target across a network ------------------------------------------

# The other scenarios with a `paginate` step (not tagged import or pagination): a parallel run
# against a shared target used to skip them; both runs still leave them out, so that the
# figures compare with the earlier ones.
_PAGING_SHARED = "not ping-group-sync and not onelogin-group-membership"


def remote_speedup(latency_ms: float, tmp: Path, token: str) -> dict[str, Any]:
    """`--workers 0` and `--workers 2` against one server behind a proxy that delays every request.

    On loopback the suite is bound by the 2 cores (harness, server, writer); a real target is
    across a network, where a worker mostly waits. Both runs leave out the scenarios that page
    through a whole collection, as the earlier measurements did.
    """
    from conformance.engine.embedded import start_embedded, stop_embedded
    from tests.support.deviating_proxy import DeviatingProxy, Deviation

    def hold(request: Any) -> Any:
        time.sleep(latency_ms / 1000)  # in the proxy's thread for this connection, as a network would
        return request

    latency = Deviation("latency", f"every request takes {latency_ms:g} ms longer", "-", rewrite_request=hold)
    server = start_embedded(token)
    try:
        with DeviatingProxy(server.base_url, [latency]) as proxy:
            folder = tmp / "remote"
            folder.mkdir()
            speed = parallel_runs(str(target_profile(proxy.url, folder)), folder, token,
                                  ["-m", "not import and not pagination", "-k", _PAGING_SHARED])
    finally:
        stop_embedded(server)
    print(f"  speedup of -n 2, {latency_ms:g} ms away: {speed['speedup']:.2f}x")
    return {"latency_ms": latency_ms, **speed}


def parallel_runs(target: str, folder: Path, token: str, pytest_args: list[str]) -> dict[str, Any]:
    """The suite with `--workers 0`, then `--workers 2`: each one's time, counts and Allure results."""
    speed: dict[str, Any] = {}
    for workers in ("0", "2"):
        reports = folder / f"par{workers}"
        run = run_child([CLI, "run", "--target", target, "--reports", str(reports), "--workers", workers, "--",
                         "-q", *pytest_args], env=child_env(token), timeout=300, log=folder / f"par{workers}.log")
        speed[workers] = {"wall_s": round(run["wall_s"], 3), "exit_code": run["code"],
                          "pytest": pytest_counts(run["output"]),
                          "allure_results": len(list((reports / "allure-results").glob("*-result.json")))}
        print(f"  -n {workers}: {run['wall_s']:.2f}s, {speed[workers]['pytest']}, "
              f"{speed[workers]['allure_results']} Allure results{_exit_note(run)}", flush=True)
    speed["speedup"] = round(speed["0"]["wall_s"] / speed["2"]["wall_s"], 2)
    return speed


# --- scim2-tester (run in its own process, as the harness is) ------------------------------------

def tester_main(base_url: str) -> int:
    import httpx2
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_tester import check_server

    counted = [0]
    started = time.perf_counter()
    with httpx2.Client(base_url=base_url, headers={"Authorization": f"Bearer {os.environ['SCIM_TOKEN']}"},
                       timeout=30, event_hooks={"request": [lambda request: counted.__setitem__(0, counted[0] + 1)]}
                       ) as http:
        client = SyncSCIMClient(http)
        client.discover()
        results = check_server(client)
    statuses: dict[str, int] = {}
    for result in results:
        statuses[result.status.name] = statuses.get(result.status.name, 0) + 1
    print(json.dumps({"checks": len(results), "statuses": statuses, "requests": counted[0],
                      "in_process_s": time.perf_counter() - started}))
    return 0


# --- the benchmark ------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "date": dt.date.today().isoformat(), "loadavg_start": [round(x, 2) for x in os.getloadavg()]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--skip-tester", action="store_true", help="do not run scim2-tester")
    parser.add_argument("--load-users", type=int, default=2000, help="users of the load against the server")
    parser.add_argument("--rounds", type=int, default=5, choices=range(1, 10), metavar="N",
                        help="rounds of harness and floor; the median ratio counts (default 5)")
    parser.add_argument("--latency-ms", type=float, default=10, metavar="MS",
                        help="also measure -n 2 against a target this far away (default 10; 0: skip)")
    parser.add_argument("--tester-only", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tester_only:
        return tester_main(args.tester_only)

    sys.path.insert(0, str(REPO))
    from conformance.engine.embedded import start_embedded, stop_embedded

    results: dict[str, Any] = {"machine": machine()}
    failures: list[str] = []
    print(f"machine: {results['machine']['cores']} cores, Python {results['machine']['python']}, "
          f"{results['machine']['date']}, load average {results['machine']['loadavg_start']}", flush=True)
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="scim-bench-") as folder:
        tmp = Path(folder)

        # 1 + 2. rounds of the harness and the floor; the median round counts
        print(f"\n[1-2/6] full suite with the harness (scim-conformance run), then the same requests replayed "
              f"by bench/replay.py (bare httpx, the floor): {args.rounds} round(s), a fresh server each...", flush=True)
        rounds = [overhead_round(n, args.rounds, tmp, token) for n in range(1, args.rounds + 1)]
        measured = sorted((r for r in rounds if "ratio" in r), key=lambda r: r["ratio"])
        if not measured:
            failures.append("no round measured the overhead (see the output above)")
            median: dict[str, Any] = rounds[-1]
            ratio = in_session = float("inf")
        else:
            median = measured[len(measured) // 2]
            ratio, in_session = median["ratio"], median["ratio_scenarios_only"]
        h_requests, harness_wall = median["requests"], median["harness_s"]
        results["rounds"] = rounds
        results["harness"] = {"wall_s": harness_wall, "exit_code": median["harness_exit"], "requests": h_requests,
                              "rss_mb": max(r["harness_rss_mb"] for r in rounds),
                              "collection_s": median["collection_s"], "scenarios_s": median["scenarios_s"],
                              "pytest": median["pytest"]}
        results["floor"] = {"wall_s": median["floor_s"], "loop_s": median["floor_loop_s"],
                            "requests": h_requests, "same_status": median["same_status"]}
        results["overhead_ratio"] = round(ratio, 2)
        results["overhead_ratio_scenarios_only"] = round(in_session, 2)
        every = ", ".join(f"{r['ratio']:.2f}x" for r in rounds if "ratio" in r)
        print(f"  overhead ratio (median of {len(measured)}): {ratio:.2f}x (goal <= {GOAL_OVERHEAD}, limit "
              f"{MAX_OVERHEAD}); all rounds: {every}; scenarios alone against the request loop alone: "
              f"{in_session:.2f}x")
        if ratio > MAX_OVERHEAD:
            failures.append(f"overhead ratio {ratio:.2f} > {MAX_OVERHEAD}")

        server = start_embedded(token)
        try:
            env = child_env(token)
            profile = str(target_profile(server.base_url, tmp))

            # 3. scim2-tester
            if not args.skip_tester:
                print("\n[3/6] scim2-tester against a fresh server...", flush=True)
                tester = run_child([sys.executable, str(BENCH / "run.py"), "--tester-only", server.base_url],
                                   env=env, timeout=180, log=tmp / "tester.log")
                try:
                    facts = json.loads(tester["output"].strip().splitlines()[-1])
                except (ValueError, IndexError):
                    facts = None
                if facts is None:
                    print(f"  scim2-tester did not run: {tester['output'][-1500:]}")
                    results["scim2_tester"] = {"error": tester["output"][-500:]}
                else:
                    h_rps = h_requests / harness_wall
                    t_rps = facts["requests"] / tester["wall_s"]
                    results["scim2_tester"] = {"wall_s": round(tester["wall_s"], 3), "requests": facts["requests"],
                                               "checks": facts["checks"], "statuses": facts["statuses"],
                                               "rps": round(t_rps, 1)}
                    results["harness"]["rps"] = round(h_rps, 1)
                    results["vs_scim2_tester"] = {"wall_ratio": round(harness_wall / tester["wall_s"], 2),
                                                  "rps_ratio": round(h_rps / t_rps, 2)}
                    print(f"  scim2-tester: {facts['checks']} checks {facts['statuses']}, {facts['requests']} "
                          f"requests in {tester['wall_s']:.2f}s = {t_rps:.0f} req/s")
                    print(f"  harness:      {h_requests} requests in {harness_wall:.2f}s = {h_rps:.0f} req/s "
                          "(the median round)")
                    print(f"  harness / scim2-tester: wall time {harness_wall / tester['wall_s']:.2f}x, "
                          f"requests per second {h_rps / t_rps:.2f}x")

            # 5a. load against the same server (before the parallel runs)
            print(f"\n[4/6] load replay against that server ({args.load_users} users)...", flush=True)
            load_json = tmp / "load.json"
            load = run_child([CLI, "load", "--target", profile, "--idp", "entra", "--users", str(args.load_users),
                              "--groups", "20", "--members", "100", "--concurrency", "8", "--duration", "60",
                              "--no-progress", "--out", str(load_json)],
                             env=env, timeout=240, log=tmp / "load.log")
            results["load_server"] = _load_facts(load, load_json)
            print("  " + _load_line(results["load_server"]))
        finally:
            stop_embedded(server)

        # 4. parallel speedup
        print("\n[5/6] parallel speedup: --workers 0 vs --workers 2 (target embedded: a server per worker)...",
              flush=True)
        speed = parallel_runs("embedded", tmp, token, [])
        results["parallel"] = speed
        print(f"  speedup of -n 2: {speed['speedup']:.2f}x")
        if args.latency_ms > 0:
            print(f"  the same against one server {args.latency_ms:g} ms away (a proxy that holds every request "
                  f"{args.latency_ms:g} ms), without the scenarios that page through a whole collection...",
                  flush=True)
            results["parallel_remote"] = remote_speedup(args.latency_ms, tmp, token)

        # 5b + 6. the client's ceiling and memory on 10,000 users
        print("\n[6/6] 10,000-user load against a trivial loopback endpoint (client ceiling, memory)...",
              flush=True)
        trivial = subprocess.Popen([sys.executable, str(BENCH / "trivial_server.py"), "--seconds", "240"],
                                   stdout=subprocess.PIPE, text=True, cwd=REPO)
        try:
            assert trivial.stdout is not None
            url = trivial.stdout.readline().strip()
            big_json = tmp / "load-10k.json"
            big = run_child([CLI, "load", "--target", url, "--idp", "entra", "--users", "10000", "--groups", "20",
                             "--members", "500", "--concurrency", "8", "--duration", "120", "--no-progress",
                             "--out", str(big_json)], env=child_env(token), timeout=240, log=tmp / "load10k.log")
        finally:
            trivial.terminate()
            trivial.wait(timeout=10)
        results["load_trivial_10k"] = _load_facts(big, big_json)
        print("  " + _load_line(results["load_trivial_10k"]))
        client_rps = results["load_trivial_10k"].get("throughput_rps") or 0
        if client_rps < MIN_CLIENT_RPS:
            failures.append(f"load client reached {client_rps:.0f} requests/s < {MIN_CLIENT_RPS} on a trivial endpoint")

    # memory
    suite_rss = results["harness"]["rss_mb"]
    load_rss = results["load_trivial_10k"]["rss_mb"]
    results["memory_mb"] = {"full_suite": suite_rss, "load_10k_users": load_rss, "limit": MAX_RSS_MB}
    for what, rss in (("full suite", suite_rss), ("10,000-user load", load_rss)):
        if rss >= MAX_RSS_MB:
            failures.append(f"peak RSS of the {what} {rss:.0f} MB >= {MAX_RSS_MB} MB")
    results["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]

    print("\nSummary")
    print(f"  overhead ratio (harness / bare httpx):     {results['overhead_ratio']:.2f}x "
          f"(scenarios only {results['overhead_ratio_scenarios_only']:.2f}x; goal {GOAL_OVERHEAD}, limit "
          f"{MAX_OVERHEAD})")
    if "vs_scim2_tester" in results:
        print(f"  harness vs scim2-tester:                  wall {results['vs_scim2_tester']['wall_ratio']:.2f}x, "
              f"req/s {results['vs_scim2_tester']['rps_ratio']:.2f}x")
    print(f"  parallel speedup -n 2:                    {results['parallel']['speedup']:.2f}x (embedded)"
          + (f", {results['parallel_remote']['speedup']:.2f}x (a target {args.latency_ms:g} ms away)"
             if "parallel_remote" in results else ""))
    print(f"  load throughput (scim2-server, entra):    {results['load_server'].get('throughput_rps')} req/s")
    print(f"  load client ceiling (trivial endpoint):   {client_rps} req/s (needs >= {MIN_CLIENT_RPS})")
    print(f"  peak RSS: full suite {suite_rss:.0f} MB, 10,000-user load {load_rss:.0f} MB (limit {MAX_RSS_MB} MB)")
    print(f"  load average {results['machine']['loadavg_start']} -> {results['machine']['loadavg_end']}")
    results["failures"] = failures
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"  figures: {args.out}")
    for failure in failures:
        print(f"FAIL: {failure}")
    print("bench: " + ("FAILED" if failures else "ok"))
    return 1 if failures else 0


def _load_facts(run: dict[str, Any], path: Path) -> dict[str, Any]:
    facts: dict[str, Any] = {"wall_s": round(run["wall_s"], 3), "exit_code": run["code"],
                             "rss_mb": round(run["rss_mb"], 1)}
    if path.is_file():
        report = json.loads(path.read_text(encoding="utf-8"))
        facts.update({k: report[k] for k in ("requests", "throughput_rps", "latency_ms", "errors", "completed",
                                             "stopped", "created")})
        facts["phases"] = {p["phase"]: p["throughput_rps"] for p in report["phases"]}
        facts["cleanup_complete"] = report["cleanup"]["complete"]
    else:
        facts["error"] = run["output"][-1500:]
    return facts


def _load_line(facts: dict[str, Any]) -> str:
    if "error" in facts:
        return f"load failed: {facts['error']}"
    latency = facts["latency_ms"]
    return (f"{facts['requests']} requests, {facts['throughput_rps']} req/s (by phase {facts['phases']}), "
            f"p50 {latency['p50']} / p95 {latency['p95']} / p99 {latency['p99']} ms, errors {facts['errors'] or 0}, "
            f"completed {facts['completed']}, cleanup complete {facts['cleanup_complete']}, "
            f"peak RSS {facts['rss_mb']:.0f} MB")


def _exit_note(run: dict[str, Any]) -> str:
    """Nothing for a run that passed; else its exit status and the end of its output."""
    if run["code"] == 0:
        return ""
    return f" (EXIT {run['code']}: the time is not comparable; its output ends with {run['output'][-300:]!r})"


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _f(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    sys.exit(main())
