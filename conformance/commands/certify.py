"""`scim-conformance certify`: run the shipped suites as the given IdPs and write a certificate
(the document is built by `conformance.reporting.certificate`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from conformance.commands.exit_codes import EXIT_PROBLEMS, EXIT_USAGE
from conformance.commands.pytest_run import run_scenarios
from conformance.commands.verify import print_results
from conformance.reporting import certificate

__all__ = ["add_parser", "cmd_certify"]


def cmd_certify(args: argparse.Namespace) -> int:
    try:
        scenarios, profiles = certificate.certify_paths()
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    idps = [i.strip() for value in args.idp for i in value.split(",") if i.strip()]
    run_args = argparse.Namespace(target=args.target, paths=[str(scenarios)], idp=idps, k=None, m=None,
                                  reports=args.reports, verbose=False, pytest_args=[], insecure=args.insecure,
                                  fail_on="any")
    code = run_scenarios(run_args, html=False)
    results = Path(args.reports) / "allure-results"
    if code not in (0, 1) or not results.is_dir():
        print("error: the run did not complete; no certificate was written", file=sys.stderr)
        return code or EXIT_PROBLEMS
    document = certificate.build_certificate(results, certificate.scenario_set_digest(scenarios, profiles), idps)
    out = Path(args.out)
    page = certificate.write(document, out)
    print(f"\nCertificate:    {out} (and {page})")
    print_results(document)
    return 0


def add_parser(commands: Any) -> argparse.ArgumentParser:
    certify = commands.add_parser(
        "certify", help="run the shipped suites and write a certificate (JSON and Markdown)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the shipped scenarios as the given IdPs and write a certificate: tool version,\n"
                    "scenario-set digest, target and what it advertises, per-IdP results and level, date.",
        epilog="example:\n  scim-conformance certify --target https://scim.example.com/scim/v2 --idp okta --idp entra\n"
               "  scim-conformance verify reports/certificate.json")
    certify.add_argument("--target", "-t", required=True, metavar="URL|PROFILE")
    certify.add_argument("--idp", action="append", required=True, metavar="ID",
                         help="an IdP profile to certify for (repeatable): okta, okta-aiw, entra, ...")
    certify.add_argument("--reports", default="reports", metavar="DIR", help="where the run's reports go")
    certify.add_argument("--out", default="reports/certificate.json", metavar="FILE",
                         help="the certificate (default: reports/certificate.json; a .md page beside it)")
    certify.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    certify.set_defaults(handler=cmd_certify)
    return certify
