"""`advisor-bot ARGS` on a clock the benchmark moves: a conversation's hours pass in seconds.

A prompt that carries the time changes when the clock does; a benchmark that plays 200 turns in
two minutes would never see the minute change that real turns, minutes apart, always see. This
runs the CLI of whatever tree PYTHONPATH names (this one, or an earlier revision's) with Python's
clock set to BENCH_CLOCK_START and moved BENCH_CLOCK_STEP_SECONDS ahead on each SIGUSR1 (time
still ticks in between). Monotonic clocks, the database's own clock and every timeout are left
alone: only what the product reads as the date and time moves.

Run by bench.prompt_cache as `python bench/clocked.py serve …`, not on its own.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from types import FrameType

import time_machine

# Run as a script: its own folder first on sys.path would shadow top-level names (`server`, …).
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).parent]

from bot.cli import main  # noqa: E402 - after the path is cleaned, from the tree PYTHONPATH names


def run() -> int:
    start = datetime.fromisoformat(os.environ["BENCH_CLOCK_START"])
    step = float(os.environ.get("BENCH_CLOCK_STEP_SECONDS", "180"))
    with time_machine.travel(start, tick=True) as traveller:

        def move(_signal: int, _frame: FrameType | None) -> None:
            traveller.shift(step)

        signal.signal(signal.SIGUSR1, move)
        return int(main(sys.argv[1:]) or 0)


if __name__ == "__main__":
    raise SystemExit(run())
