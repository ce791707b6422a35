"""`python -m conformance` is the `scim-conformance` command."""

from conformance.commands.cli import entry

entry()
