"""Owns what the command line prints: results on stdout, one clear `error:` line on stderr."""

from __future__ import annotations

import sys


def say(text: str) -> None:
    """Print a result line."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def fail(text: str, code: int = 1) -> int:
    """Print what went wrong and what to do about it, as one line; return the exit code."""
    sys.stderr.write(f"error: {text}\n")
    sys.stderr.flush()
    return code
