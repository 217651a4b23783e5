"""`make bench` (= `.venv/bin/python -m bench`): every benchmark of docs/benchmarks.md, in order.

About 20 minutes on 2 cores. Each part rewrites its own section of docs/benchmarks.md (and its
plot and raw data); parts can be run alone with `.venv/bin/python -m bench.<part>`.
"""

from __future__ import annotations

import importlib
import sys
import time

PARTS = [
    "rates",
    "end_to_end",
    "growth",
    "turns",
    "memory_recall",
    "knowledge_search",
    "import",
    "adoption",
    "cost",
    "voice_latency",
    "console",
    "hostile_input",
    "evaluation",
    "reply_parts",
]


def main() -> int:
    only = sys.argv[1:] or PARTS
    for part in only:
        started = time.monotonic()
        print(f"== bench.{part}", flush=True)
        result = importlib.import_module(f"bench.{part}").main()
        print(f"== bench.{part} done in {time.monotonic() - started:.0f} s", flush=True)
        if result:
            return int(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
