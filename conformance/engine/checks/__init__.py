"""Checks of a target's answers, registered by name (see `registry`).

Importing this package registers every built-in check.
"""

from conformance.engine.checks import body, groups, headers, status  # noqa: F401  (registers the checks)
from conformance.engine.checks.registry import CHECKS, Check, CheckFailed, check

__all__ = ["CHECKS", "Check", "CheckFailed", "check"]
