"""`scim-conformance run`: run scenarios against a SCIM server and write the reports."""

from __future__ import annotations

import argparse
from typing import Any

from conformance.commands.pytest_run import add_run_options, run_scenarios

__all__ = ["add_parser", "cmd_run"]


def cmd_run(args: argparse.Namespace) -> int:
    return run_scenarios(args, html=args.html)


def add_parser(commands: Any) -> argparse.ArgumentParser:
    run = commands.add_parser(
        "run", help="run scenarios against a SCIM server",
        description="Run scenarios against a target; writes Allure results, JUnit XML, the compatibility "
                    "matrix, and with --html the offline HTML report.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  export SCIM_TOKEN=...\n"
               "  scim-conformance run --target https://scim.example.com/scim/v2 --idp okta --html\n"
               "  scim-conformance run --target staging -m \"users and must\" --fail-on must\n"
               "  scim-conformance run --target embedded scenarios/okta/push-new-user.scenario.yaml -v")
    run.add_argument("--target", "-t", required=True, metavar="URL|PROFILE",
                     help="base URL (https://host/scim/v2), target profile name or file, or 'embedded'")
    run.add_argument("--html", action="store_true", help="also build the HTML report (needs the Allure CLI)")
    run.add_argument("--insecure", action="store_true",
                     help="do not verify the server's TLS certificate (as tls.verify: false in a target profile)")
    run.add_argument("--fail-on", choices=("any", "must", "should"), default="any",
                     help="exit 1 on any failure (default), or only when a must (or must/should) scenario fails")
    add_run_options(run)
    run.set_defaults(handler=cmd_run)
    return run
