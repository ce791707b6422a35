"""The exit statuses every command shares (pytest's own codes pass through `run` unchanged)."""

from __future__ import annotations

__all__ = ["EXIT_INTERRUPTED", "EXIT_PROBLEMS", "EXIT_USAGE", "NO_TESTS_COLLECTED"]

EXIT_PROBLEMS = 1  # something was found wrong: a failed scenario, a lint problem, a leftover not removed
EXIT_USAGE = 2  # the command line or a file it names cannot be used
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM, as a shell reports a process ended by SIGINT
NO_TESTS_COLLECTED = 5  # pytest's code when no scenario was selected
