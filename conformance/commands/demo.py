"""`scim-conformance demo`: every scenario against the embedded scim2-server, then the HTML report."""

from __future__ import annotations

import argparse
from typing import Any

from conformance.commands.pytest_run import add_run_options, run_scenarios

__all__ = ["add_parser", "cmd_demo"]


def cmd_demo(args: argparse.Namespace) -> int:
    args.target = "embedded"
    print("Starting the embedded SCIM server (scim2-server) on 127.0.0.1 and replaying every scenario...")
    return run_scenarios(args, html=True)


def add_parser(commands: Any) -> argparse.ArgumentParser:
    demo = commands.add_parser("demo", help="start the embedded SCIM server, run every scenario, build the report",
                               description="Start scim2-server on 127.0.0.1, run every scenario against it, "
                                           "write reports/ and build the offline HTML report.",
                               epilog="example: scim-conformance demo --idp okta")
    add_run_options(demo)
    demo.set_defaults(handler=cmd_demo)
    return demo
