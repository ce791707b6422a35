"""`scim-conformance record`: its parser and its function.

Starts the recording proxy (`conformance.recording.proxy.Recorder`) in front of `--target`, waits
until Ctrl-C, SIGTERM, `--max-requests` or `--duration`, then writes what it recorded as one
scenario (`conformance.recording.scenario_file`). The recorder needs no token of its own: the IdP
sends its own, which is masked in the log and never written.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance.commands.exit_codes import EXIT_PROBLEMS, EXIT_USAGE
from conformance.engine.embedded import EmbeddedServerError, EmbeddedServerUnavailable
from conformance.engine.errors import HarnessError
from conformance.engine.redact import Redactor, shown_url
from conformance.engine.target import Target, open_target, profiles_dir_or_none
from conformance.recording.proxy import Recorder
from conformance.recording.scenario_file import Destination, save_scenario

__all__ = ["add_parser", "cmd_record"]


def _listen_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: expected HOST:PORT, e.g. 127.0.0.1:8080 (port 0: any free port)")
    return host, int(port)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of at least 1")
    return int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number of seconds above 0")
    return value


def cmd_record(args: argparse.Namespace) -> int:
    """Record until told to stop, then write the scenario; the exit status (0 written, 1 nothing, 2 usage)."""
    try:
        destination = Destination.from_args(args)
        # The embedded server accepts any token here: the IdP sends its own through the recorder.
        with open_target(args.target, profiles_dir_or_none(), insecure=args.insecure, prompt=False,
                         authenticate_embedded=False) as target:
            return _record(args, target, destination)
    except (HarnessError, EmbeddedServerError, EmbeddedServerUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _record(args: argparse.Namespace, target: Target, destination: Destination) -> int:
    """Proxy to the started `target` until a stop, then save what was recorded; the exit status."""
    base_url = target.base_url or ""
    log_file = open(args.log, "a", encoding="utf-8") if args.log else None
    try:
        recorder = Recorder(base_url, args.listen, verify=target.profile.verify_tls, max_requests=args.max_requests,
                            log=log_file, echo=sys.stderr if args.verbose else None)
        try:
            recorder.start()
        except OSError as exc:
            print(f"error: cannot listen on {args.listen[0]}:{args.listen[1]}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
        _announce(args, recorder.url, base_url, target.embedded, destination.out)
        _wait(recorder, args.duration)
        recorder.stop()
        exchanges = recorder.exchanges()
        print(f"\nStopped: {recorder.seen} request(s) seen, {len(exchanges)} recorded"
              + (f", {recorder.unanswered} not answered by the target" if recorder.unanswered else "")
              + (f", {recorder.incomplete} still in flight (not recorded)" if recorder.incomplete else ""))
        if not exchanges:
            print("Nothing was recorded: no file written.", file=sys.stderr)
            return EXIT_PROBLEMS
        header = [
            f"Recorded by `scim-conformance record` from {_stamp(recorder.started_at)} "
            f"to {_stamp(recorder.stopped_at)}",
            f"Target: {shown_url(base_url) if not target.embedded else 'embedded scim2-server ' + base_url}"
            f" (the recorder listened on {recorder.url})",
            f"Requests: {recorder.seen} seen, {len(exchanges)} recorded",
        ]
        hint = "embedded" if target.embedded else shown_url(args.target)
        return save_scenario(exchanges, destination, base_url=base_url, header=header, target_hint=hint)
    finally:
        if log_file is not None:
            log_file.close()


def _announce(args: argparse.Namespace, where: str, base_url: str, embedded: bool, out: Path) -> None:
    """Where to point the IdP, where requests go, and how the recording stops."""
    print(f"Recording: point the IdP at {where}", flush=True)
    if args.listen[0] not in ("127.0.0.1", "::1", "localhost"):
        print(f"  warning: listening on {args.listen[0]} over plain HTTP: the IdP's token crosses the network "
              "in clear unless a TLS tunnel or proxy terminates in front of it", file=sys.stderr, flush=True)
    print(f"  forwarding to {Redactor().text(shown_url(base_url))}"
          + (" (embedded scim2-server, accepts any token)" if embedded else ""), flush=True)
    bounds = [f"{args.max_requests} request(s)" if args.max_requests else "",
              f"{args.duration:g} s" if args.duration else ""]
    bounded = " or ".join(b for b in bounds if b)
    print(f"  stop with Ctrl-C or SIGTERM{'; stops by itself after ' + bounded if bounded else ''}; "
          f"then {out} is written", flush=True)


def _wait(recorder: Recorder, duration: float | None) -> None:
    """Until Ctrl-C, SIGTERM, the request limit or the duration; signals only set a flag."""
    stop = threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    deadline = time.monotonic() + duration if duration else None
    try:
        while not stop.is_set() and not recorder.limit_reached.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            stop.wait(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stamp(moment: datetime | None) -> str:
    """A moment for the file's header, to the second, in UTC."""
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register `record` on the CLI's subcommands."""
    parser = commands.add_parser(
        "record",
        help="record what an IdP sends (a reverse proxy) and write it as a scenario",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "A reverse proxy between an IdP and a SCIM server: point the IdP (its Tenant URL / SCIM\n"
            "connector base URL) at the address it prints. Every request goes to --target unchanged\n"
            "and every answer comes back unchanged (only hop-by-hop headers are the proxy's own).\n"
            "When it stops, it writes one scenario: each request a step expecting the status and the\n"
            "stable parts of the answer it got; ids and ETags become captures; personal data becomes\n"
            "generated values (unless --keep-values); Authorization, cookies, passwords and tokens\n"
            "are never written, to the scenario or to the log."),
        epilog=(
            "example:\n"
            "  scim-conformance record --target https://scim.example.com/scim/v2 --listen 127.0.0.1:8080 \\\n"
            "      --out scenarios/recorded/entra-sync.scenario.yaml --idp entra\n"
            "  # point the IdP at http://127.0.0.1:8080/scim/v2 (a tunnel gives it HTTPS), let it sync, Ctrl-C\n"
            "  scim-conformance run --target https://scim.example.com/scim/v2 \\\n"
            "      scenarios/recorded/entra-sync.scenario.yaml\n\n"
            "--target also takes a target profile name or file (for its TLS settings), or 'embedded'\n"
            "(starts scim2-server on 127.0.0.1, accepting any token). The recorder itself needs no token.\n"
            "Exit status: 0 when the scenario was written, 1 when nothing was recorded, 2 on usage errors."),
    )
    parser.add_argument("--target", "-t", required=True, metavar="URL|PROFILE",
                        help="the real SCIM server: base URL, target profile name or file, or 'embedded'")
    parser.add_argument("--listen", type=_listen_address, default=("127.0.0.1", 8080), metavar="HOST:PORT",
                        help="where the IdP connects (default 127.0.0.1:8080; port 0 picks a free one)")
    Destination.add_arguments(parser)
    parser.add_argument("--max-requests", type=_positive_int, metavar="N",
                        help="stop after recording N requests")
    parser.add_argument("--duration", type=_positive_float, metavar="SECONDS", help="stop after this long")
    parser.add_argument("--log", metavar="FILE",
                        help="append one line per request to FILE (secrets masked)")
    parser.add_argument("--insecure", action="store_true", help="do not verify the target's TLS certificate")
    parser.add_argument("-v", "--verbose", action="store_true", help="print one line per request on stderr")
    parser.set_defaults(handler=cmd_record)
    return parser

