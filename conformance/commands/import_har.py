"""`scim-conformance import`: its parser and its function.

Reads a HAR file (`conformance.recording.har`) and writes the SCIM requests it holds as one
scenario by the rules of `record` (`conformance.recording.scenario_file`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from conformance.commands.exit_codes import EXIT_PROBLEMS, EXIT_USAGE
from conformance.engine.errors import HarnessError
from conformance.engine.redact import shown_url
from conformance.recording.har import HarError, read_har
from conformance.recording.scenario_file import Destination, save_scenario

__all__ = ["add_parser", "cmd_import"]


def cmd_import(args: argparse.Namespace) -> int:
    """Turn the HAR file into a scenario; the exit status (0 written, 1 nothing to write, 2 usage)."""
    source = Path(args.har)
    try:
        destination = Destination.from_args(args)
        imported = read_har(source, args.base_url)
    except (HarnessError, HarError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for line in imported.skipped:
        print(f"  skipped: {line}")
    if not imported.exchanges:
        print(f"error: {source}: no entry under {imported.base_url} has an answer: no file written", file=sys.stderr)
        return EXIT_PROBLEMS
    span = f"{imported.first} to {imported.last}" if imported.first else "unknown times"
    header = [
        f"Imported by `scim-conformance import` from {source.name} (HAR by {imported.creator}), recorded {span}",
        f"Target: {shown_url(imported.base_url)}",
        f"Entries: {len(imported.exchanges) + len(imported.skipped)} read, "
        f"{len(imported.exchanges)} to the SCIM base URL",
    ]
    return save_scenario(imported.exchanges, destination, base_url=imported.base_url, header=header,
                         target_hint=shown_url(imported.base_url))


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register `import` on the CLI's subcommands."""
    parser = commands.add_parser(
        "import",
        help="turn a HAR file (browser or proxy export) into a scenario",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Read a HAR file (HTTP Archive 1.2: browser developer tools, mitmproxy, Fiddler, Charles,\n"
            "Burp) and write the requests it holds to the SCIM base URL as one scenario, by the rules\n"
            "of `record`: each request a step expecting the status and stable parts of the answer; ids\n"
            "and ETags become captures; personal data becomes generated values (unless --keep-values);\n"
            "Authorization, cookies, passwords and tokens are never written."),
        epilog=(
            "example:\n"
            "  scim-conformance import entra-provisioning.har --idp entra \\\n"
            "      --out scenarios/recorded/entra-provisioning.scenario.yaml\n"
            "  scim-conformance run --target https://scim.example.com/scim/v2 \\\n"
            "      scenarios/recorded/entra-provisioning.scenario.yaml\n\n"
            "Exit status: 0 when the scenario was written, 1 when nothing could be, 2 on usage errors."),
    )
    parser.add_argument("har", metavar="FILE.har", help="the HAR file")
    parser.add_argument("--base-url", metavar="URL",
                        help="the SCIM base URL in the HAR (default: found from the first SCIM endpoint in the URLs)")
    Destination.add_arguments(parser)
    parser.set_defaults(handler=cmd_import)
    return parser
