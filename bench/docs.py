"""Writes one benchmark's section of docs/benchmarks.md, leaving the other sections as they are."""

from __future__ import annotations

import contextlib
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\nFigures measured on this project's machines; each section says how to reproduce it.\n"
)


def replace_section(name: str, body: str) -> None:
    """Put `body` between the `<!-- name:begin -->` and `<!-- name:end -->` markers."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    section = f"{begin}\n{body.strip()}\n{end}"
    text = DOC.read_text() if DOC.exists() else HEADER
    if begin in text and end in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)


def machine_line() -> str:
    """The machine a figure was measured on, as every section states it."""
    import os
    import platform

    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"Machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}."


def measured_at() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
