"""`scim-conformance init [DIR]`: scaffold a team's own suite (the files are written by `scaffold`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from conformance.commands import scaffold

__all__ = ["add_parser", "cmd_init"]


def cmd_init(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    written = scaffold.scaffold(directory, name=args.name, team=args.team)
    for path, new in written:
        print(f"  {'created' if new else 'kept   '} {path}")
    print(f"\nNext: edit {directory / 'profiles' / 'targets' / (args.name + '.yaml')} (base_url, capabilities), then\n"
          f"  cd {directory} && export SCIM_TOKEN=... && scim-conformance doctor --target {args.name}\n"
          f"  scim-conformance run --target {args.name}     # your scenarios and the shipped ones")
    return 0


def add_parser(commands: Any) -> argparse.ArgumentParser:
    init = commands.add_parser(
        "init", help="scaffold your team's own suite (target profile, example scenario, CI job)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write a target profile for your server, an example scenario that reuses the shipped\n"
                    "shared steps, a pytest.ini and a GitHub Actions job into DIR. Existing files are kept.\n"
                    "Your scenarios and the shipped ones then run together; yours replace ours by id.",
        epilog="example:\n  scim-conformance init my-scim-tests --name acme-scim\n"
               "  cd my-scim-tests && scim-conformance run --target acme-scim")
    init.add_argument("directory", nargs="?", default=".", help="where to write (default: the current folder)")
    init.add_argument("--name", default="my-server", help="the target profile's name (default: my-server)")
    init.add_argument("--team", default="my-team", help="the folder of your scenarios (default: my-team)")
    init.set_defaults(handler=cmd_init)
    return init
