"""Errors the user can act on: printed as one line, never as a traceback."""


class DemoError(Exception):
    """A runtime problem with the user's files, devices or data (exit code 1)."""

    exit_code = 1


class UsageError(DemoError):
    """Contradictory or out-of-range command-line arguments (exit code 2)."""

    exit_code = 2


def openvino_reason(error: Exception) -> str:
    """The reason in an OpenVINO exception: its message starts with source locations, not reasons."""
    lines = [line.strip() for line in str(error).splitlines()
             if line.strip() and not line.startswith(("Exception from", "Check '"))]
    return lines[-1] if lines else type(error).__name__
