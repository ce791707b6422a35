"""`scim-conformance doctor`: diagnose a target before running scenarios (the checks are in
`conformance.engine.doctor`); nothing is created on the target."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from conformance.commands.exit_codes import EXIT_PROBLEMS, EXIT_USAGE
from conformance.engine.doctor import diagnose
from conformance.engine.embedded import EmbeddedServerError, EmbeddedServerUnavailable
from conformance.engine.errors import HarnessError
from conformance.engine.redact import redactor
from conformance.engine.target import open_target, profiles_dir_or_none
from conformance.engine.transport import Transport

__all__ = ["add_parser", "cmd_doctor"]


def cmd_doctor(args: argparse.Namespace) -> int:
    try:
        with open_target(args.target, profiles_dir_or_none(), insecure=args.insecure) as target:
            print(f"scim-conformance doctor: {redactor.text(str(target.base_url))} (profile {target.profile.id})")
            with Transport(target.profile, target.token) as transport, Transport(target.profile, None) as anonymous:
                findings = diagnose(target.profile, transport, anonymous, has_token=bool(target.token))
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (EmbeddedServerError, EmbeddedServerUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    for finding in findings:
        print(f"  {finding.level:<4} {finding.check:<14} {redactor.text(finding.detail)}")
    failed = [f for f in findings if f.level == "FAIL"]
    print("\n" + (f"{len(failed)} problem(s): fix the first one and run doctor again" if failed
                  else "the target looks usable: scim-conformance run --target " + args.target))
    return EXIT_PROBLEMS if failed else 0


def add_parser(commands: Any) -> argparse.ArgumentParser:
    doctor = commands.add_parser(
        "doctor", help="diagnose a target: reachable, TLS, auth, SCIM base URL, what it advertises",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Check a target before running scenarios: DNS/connection/TLS, whether the base URL\n"
                    "answers SCIM, whether the token is accepted and required, and what the server\n"
                    "advertises; suggests the capabilities its profile should declare. Creates nothing.",
        epilog="example:\n  export SCIM_TOKEN=...\n  scim-conformance doctor --target https://scim.example.com/scim/v2\n"
               "Exit status: 0 usable, 1 a problem was found, 2 usage error.")
    doctor.add_argument("--target", "-t", required=True, metavar="URL|PROFILE",
                        help="base URL, target profile name or file, or 'embedded'")
    doctor.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    doctor.set_defaults(handler=cmd_doctor)
    return doctor
