"""`scim-conformance report`: the compatibility matrix and the offline HTML report from Allure results.

`print_certification` is also what `run` prints after its scenarios: where each IdP stands.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from conformance.commands.exit_codes import EXIT_PROBLEMS
from conformance.engine.redact import redactor
from conformance.reporting.allure_html import AllureUnavailable, build_html
from conformance.reporting.matrix import Matrix, write_matrix

__all__ = ["add_parser", "cmd_report", "print_certification"]


def print_certification(results: Path, out_dir: Path, target: str | None) -> Matrix | None:
    """Write matrix.md/json and badges beside the results; print where each IdP stands."""
    if not results.is_dir():
        return None
    matrix = write_matrix(results, out_dir, redactor.text(target) if target else None)
    if not matrix.outcomes:
        return matrix
    print("\nCertification (every must scenario of an IdP passed):")
    for certification in map(matrix.certification, matrix.idps):
        line = f"  {certification.idp:<18} {certification.level}"
        if certification.must_not_passed:
            line += f"; must not passed: {', '.join(certification.must_not_passed)}"
        if certification.should_failed:
            line += f"; should failed: {', '.join(certification.should_failed)}"
        print(line)
    print(f"Matrix:         {out_dir / 'matrix.md'} (and matrix.json, badges/)")
    return matrix


def cmd_report(args: argparse.Namespace) -> int:
    results = Path(args.results)
    if not results.is_dir():
        print(f"error: {results}: no such folder (run the scenarios first: scim-conformance run)", file=sys.stderr)
        return EXIT_PROBLEMS
    matrix_dir = Path(args.matrix) if args.matrix else results.parent
    print_certification(results, matrix_dir, None)
    try:
        page = build_html(results, Path(args.output))
    except (AllureUnavailable, FileNotFoundError, RuntimeError) as exc:
        print(f"error: HTML report not built: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"HTML report:    {page.resolve()}  (one self-contained file; opens offline)")
    return 0


def add_parser(commands: Any) -> argparse.ArgumentParser:
    report = commands.add_parser(
        "report", help="build the offline HTML report and the compatibility matrix from Allure results",
        description="Reads the Allure results of a run; writes the compatibility matrix (matrix.md, "
                    "matrix.json, badges/<idp>.svg) and one self-contained HTML file (needs the Allure 3 CLI, which "
                    "runs on Node: make install puts it in .tools/, or set ALLURE_BIN).",
        epilog="example: scim-conformance report --results reports/allure-results --output reports/html",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("--results", default="reports/allure-results", metavar="DIR",
                        help="Allure results folder (default: reports/allure-results)")
    report.add_argument("--output", default="reports/html", metavar="DIR",
                        help="folder of the HTML report (default: reports/html)")
    report.add_argument("--matrix", metavar="DIR",
                        help="folder for matrix.md, matrix.json and badges/ (default: the results' parent)")
    report.set_defaults(handler=cmd_report)
    return report
