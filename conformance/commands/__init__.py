"""The `scim-conformance` command line: one module per command, each with its parser and its function."""
