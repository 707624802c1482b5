"""Errors the user can act on: printed as one line, never as a traceback."""


class DemoError(Exception):
    """A runtime problem with the user's files, devices or data (exit code 1)."""

    exit_code = 1


class UsageError(DemoError):
    """Contradictory or out-of-range command-line arguments (exit code 2)."""

    exit_code = 2
