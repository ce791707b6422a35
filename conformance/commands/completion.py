"""`scim-conformance completion SHELL`: a shell completion script generated from the command's parser."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["ROOT_PARSER", "add_parser", "cmd_completion"]

# The namespace attribute holding the whole command line's parser, which the dispatcher sets:
# the script completes every command, and this module must not import the dispatcher.
ROOT_PARSER = "root_parser"


def cmd_completion(args: argparse.Namespace) -> int:
    import shtab  # only this command needs it

    print(shtab.complete(getattr(args, ROOT_PARSER), shell=args.shell))
    return 0


def add_parser(commands: Any) -> argparse.ArgumentParser:
    completion = commands.add_parser(
        "completion", help="print a shell completion script",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n"
               "  scim-conformance completion bash > ~/.local/share/bash-completion/completions/scim-conformance\n"
               "  scim-conformance completion zsh > \"${fpath[1]}/_scim-conformance\"")
    completion.add_argument("shell", choices=("bash", "zsh", "tcsh"))
    completion.set_defaults(handler=cmd_completion)
    return completion
