"""`scim-conformance verify`: check that a certificate is unchanged and was made with this
version's scenario set."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from conformance.commands.exit_codes import EXIT_PROBLEMS, EXIT_USAGE
from conformance.reporting import certificate

__all__ = ["add_parser", "cmd_verify", "print_results"]


def cmd_verify(args: argparse.Namespace) -> int:
    path = Path(args.certificate)
    try:
        document = certificate.load(path)
        scenarios, profiles = certificate.certify_paths()
    except (OSError, ValueError) as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    problems = certificate.verify_certificate(document, certificate.scenario_set_digest(scenarios, profiles))
    if problems:
        for problem in problems:
            print(f"{path}: does not verify: {problem}")
        return EXIT_PROBLEMS
    print(f"{path}: verifies: made by scim-conformance {document['tool']['version']} on {document['date']} "
          f"for {document['target'].get('url')}")
    print_results(document)
    return 0


def print_results(document: dict[str, Any]) -> None:
    """One line per IdP of a certificate: its level and how many of its scenarios passed."""
    for result in document["results"]:
        print(f"  {result['name']:<24} {result['level']} ({result['passed']}/{result['ran']})")


def add_parser(commands: Any) -> argparse.ArgumentParser:
    verify = commands.add_parser(
        "verify", help="check a certificate: unchanged, and made with this version's scenario set",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  scim-conformance verify reports/certificate.json\n"
               "Exit status: 0 verifies, 1 does not, 2 unreadable.")
    verify.add_argument("certificate", help="a certificate.json written by `scim-conformance certify`")
    verify.set_defaults(handler=cmd_verify)
    return verify
