"""Owns how a long-running process treats the objects it made while starting."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Keep what start-up built (modules, settings, app, pools) out of every later collection.

    Those ~100,000 objects live as long as the process; without this each full collection walks
    them all again, and a busy web process runs one every few seconds (about 5 % of its CPU at the
    webhook's ceiling, bench: docs/benchmarks.md). Python's documented use of `gc.freeze`.
    """
    gc.collect()
    gc.freeze()
