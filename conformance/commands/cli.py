"""The `scim-conformance` command line: builds the parser from the command modules and dispatches.

Each command is a module of this package with its parser and its function: `add_parser(commands)`
registers its subcommand with `set_defaults(handler=...)`. `COMMANDS` lists them in the order
`--help` shows them.
"""

from __future__ import annotations

import argparse
import gc
import sys
from typing import NoReturn

from conformance import __version__
from conformance.commands import (
    certify,
    cleanup,
    completion,
    demo,
    doctor,
    import_har,
    init,
    lint,
    listing,
    load,
    record,
    report,
    run,
    show,
    verify,
)
from conformance.commands.exit_codes import EXIT_INTERRUPTED
from conformance.commands.pytest_run import add_stray_paths

__all__ = ["COMMANDS", "build_parser", "entry", "main"]

COMMANDS = (run, demo, lint, listing, show, cleanup, report, init, doctor, certify, verify, completion,
            record, import_har, load)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scim-conformance",
        description="Replays what Okta and Microsoft Entra ID send to a SCIM 2.0 server, scenario by "
                    "scenario, and reports where the server breaks them.",
        epilog="The bearer token is read from $SCIM_TOKEN (or the variable a target profile names), "
               "or asked for at a prompt; it is never printed or written to the reports.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.set_defaults(**{completion.ROOT_PARSER: parser})
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `--` goes to pytest unchanged (argparse would give it to `paths`).
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    parser = build_parser()
    # As parse_args, except that `run a --html b` is read too: argparse takes the paths of a
    # command only up to its first option.
    args, unknown = parser.parse_known_args(argv[:len(argv) - len(extra) - 1] if "--" in argv else argv)
    unknown = add_stray_paths(args, unknown)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if extra and hasattr(args, "pytest_args"):
        args.pytest_args = [*(args.pytest_args or []), *extra]
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def entry() -> NoReturn:
    """The `scim-conformance` console script: `main()`, then exit with its code.

    Every report is written and closed when `main()` returns. The interpreter would still walk
    the whole heap once more on the way out (a last garbage collection, 0.1 s after a full
    run); frozen, the heap is left to the operating system instead.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    entry()
