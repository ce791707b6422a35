"""`scim-conformance load`: the command line of the load replay (`conformance.loadtest`).

Parses the options, opens the target (a profile, a URL, or the embedded server started here),
turns a CI cancellation (SIGTERM) into Ctrl-C so that cleanup still runs, runs the replay and
maps its report to an exit status.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conformance.engine import cleanup
from conformance.engine.errors import HarnessError, ScenarioFileError
from conformance.engine.paths import find_profiles_dir
from conformance.engine.profiles import load_idp_profiles
from conformance.engine.target import prepare_target
from conformance.loadtest.cycle import LoadOptions, run_load

__all__ = ["add_parser", "cmd_load", "main"]

MAX_USERS = 1_000_000
MAX_CONCURRENCY = 256
MAX_DURATION_S = 24 * 3600.0


def _positive(kind: type, low: float, high: float) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is out of range ({low:g}..{high:g})")
        return value
    return parse


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register `load` on the CLI's subcommands."""
    load = commands.add_parser(
        "load", help="replay an IdP's initial provisioning cycle at scale (throughput, latency, errors)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Replay the initial provisioning cycle of an IdP the way its profile sends it: a lookup and a\n"
                    "create for every user, groups created and their members added in batches, then an\n"
                    "incremental cycle of updates; with bounded concurrency and time. Prints throughput,\n"
                    "latency p50/p95/p99 and errors by status, and removes everything it created.",
        epilog="examples:\n"
               "  scim-conformance load --target embedded --idp entra --users 1000 --groups 10 --members 100\n"
               "  SCIM_TOKEN=... scim-conformance load --target https://scim.example.com/scim/v2 --idp entra \\\n"
               "      --users 10000 --groups 50 --members 500 --concurrency 16 --duration 600 --out load.json\n\n"
               "To spread the same load over several machines, run conformance/loadtest/locustfile.py with\n"
               "Locust (docs/performance.md). Exit status: 0 when every request got a 2xx answer and\n"
               "cleanup removed everything; 1 otherwise; 2 on usage errors and templates the cycle cannot\n"
               "fill in; 130 when interrupted (Ctrl-C, SIGTERM: cleanup still runs).")
    load.add_argument("--target", "-t", required=True, metavar="URL|PROFILE",
                      help="base URL, target profile name or file, or 'embedded'")
    load.add_argument("--idp", default="entra", metavar="ID", help="IdP profile whose cycle to replay (default: entra)")
    load.add_argument("--users", type=_positive(int, 0, MAX_USERS), default=100, metavar="N",
                      help="users to look up and create (default: 100)")
    load.add_argument("--groups", type=_positive(int, 0, MAX_USERS), default=5, metavar="G",
                      help="groups to create (default: 5)")
    load.add_argument("--members", type=_positive(int, 0, MAX_USERS), default=50, metavar="M",
                      help="members of each group, taken from the created users (default: 50)")
    load.add_argument("--batch", type=_positive(int, 1, 10_000), default=50, metavar="B",
                      help="members added per PATCH (default: 50)")
    load.add_argument("--updates", type=_positive(int, 0, MAX_USERS), default=None, metavar="U",
                      help="users changed in the incremental cycle (default: every created user)")
    load.add_argument("--concurrency", "-c", type=_positive(int, 1, MAX_CONCURRENCY), default=8, metavar="C",
                      help="requests in flight at once (default: 8)")
    load.add_argument("--duration", type=_positive(float, 0.1, MAX_DURATION_S), default=60.0, metavar="S",
                      help="stop sending after S seconds, wherever the cycle is (default: 60); cleanup follows")
    load.add_argument("--cleanup-timeout", type=_positive(float, 1, MAX_DURATION_S), default=300.0, metavar="S",
                      help="time allowed for removing what was created (default: 300)")
    load.add_argument("--out", metavar="FILE", help="write the results as JSON (for plotting)")
    load.add_argument("--run-id", metavar="ID", help="run id put into generated names (default: random)")
    load.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    load.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    load.set_defaults(handler=cmd_load)
    return load


def cmd_load(args: argparse.Namespace) -> int:
    """Run the load replay the options describe; 0 clean, 1 errors or leftovers, 2 usage, 130 interrupted."""
    if args.run_id and not cleanup.RUN_ID_PATTERN.match(args.run_id):
        print(f"error: --run-id {args.run_id!r}: letters, digits, '-' and '_'", file=sys.stderr)
        return 2
    try:
        profiles_dir = find_profiles_dir()
        # Also turns SIGTERM (how CI cancels a job) into Ctrl-C: stop sending, still remove what was created.
        target = prepare_target(args.target, profiles_dir, insecure=args.insecure, prompt=True)
        idps = load_idp_profiles(profiles_dir)
    except (HarnessError, ScenarioFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.idp not in idps:
        print(f"error: --idp {args.idp}: no such IdP profile (known: {', '.join(sorted(idps))})", file=sys.stderr)
        return 2
    options = LoadOptions(users=args.users, groups=args.groups, members=args.members, batch=args.batch,
                          updates=args.updates, concurrency=args.concurrency, duration=args.duration,
                          cleanup_timeout=args.cleanup_timeout, progress=False if args.no_progress else None)
    with target:  # the embedded server is started here, and stopped after
        try:
            report = run_load(target.profile, target.token, idps[args.idp], options, run_id=args.run_id,
                              out=Path(args.out) if args.out else None)
        except HarnessError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if report["stopped"] == "interrupted":
        return 130
    if report.get("harness_error"):
        print(f"error: {report['harness_error']}", file=sys.stderr)
        return 2
    return 0 if not report["errors"] and report["cleanup"]["complete"] else 1


def main(argv: list[str] | None = None) -> int:  # python -m conformance.commands.load
    """The `load` command alone, without the rest of the command line."""
    parser = argparse.ArgumentParser(prog="python -m conformance.commands.load")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["load", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
