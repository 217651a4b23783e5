"""Owns `advisor-bot import …`: bringing an old bot's JSON files into PostgreSQL, losing nothing.

Files are streamed (ijson), so one larger than memory imports too; records are written in
batches of BATCH records (or BATCH_BYTES of the file), one transaction each, so a killed
import is finished by running it again.
Every record that cannot be imported is written with its reason to `<file>.rejects.jsonl`
beside the input. A progress bar (rich) shows counts and rate on a terminal; elsewhere a plain
line every few seconds. The report: imported, updated, unchanged, rejected. Exit code 0 when
every record was taken, 1 when some were rejected or the file is cut short.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol
from uuid import UUID

import ijson

from bot.cli.console import fail, say
from bot.cli.import_formats import RejectedRecordError, check_record, contact_from, profile_from
from bot.cli.lookup import Conn, advisor_named, connection
from bot.settings import Settings
from memory.records import imports as records
from memory.records.imports import BatchCounts, ContactImport, ProfileImport, import_profiles

BATCH = 1_000
BATCH_BYTES = 8 * 1024 * 1024  # fat records: a batch is also cut at this much of the file
PLAIN_PROGRESS_SECONDS = 5.0


@dataclass
class Report:
    """What one file's import did."""

    counts: BatchCounts = field(default_factory=BatchCounts)
    rejected: int = 0
    records: int = 0
    problem: str | None = None  # the file itself could not be read to its end

    def line(self, name: str, *, dry_run: bool) -> str:
        """The report's one line for file `name`."""
        c = self.counts
        verb = "would import" if dry_run else "imported"
        return (
            f"{name}: {verb} {c.imported:,}, updated {c.updated:,}, unchanged {c.unchanged:,}, "
            f"rejected {self.rejected:,} (of {self.records:,} records)"
        )


class _Progress(Protocol):
    def advance(self, records: int, position: int) -> None: ...


async def import_mappings(settings: Settings, path: Path, *, dry_run: bool) -> int:
    """`advisor-bot import mappings FILE`: conversation → HubSpot mappings, keyed by conversation."""

    async def write(conn: Conn, rows: list[Any]) -> BatchCounts:
        newest: dict[str, ContactImport] = {}
        for row in rows:  # the same conversation twice in a batch: the newer record wins
            kept = newest.get(row.source_conversation_id)
            if kept is None or _newer(row, kept):
                newest[row.source_conversation_id] = row
        counts = await records.import_mappings(conn=conn, batch=list(newest.values()))
        counts.unchanged += len(rows) - len(newest)
        return counts

    async with connection(settings, autocommit=True) as conn:
        return await _import_file(conn, path, contact_from, write, dry_run=dry_run)


async def import_profiles_files(
    settings: Settings, advisor_ref: str, paths: list[Path], *, dry_run: bool
) -> int:
    """`advisor-bot import profiles --advisor A FILE…`: threads.json and guest_profiles.json."""
    async with connection(settings, autocommit=True) as conn:
        advisor = await advisor_named(conn, advisor_ref)
        if advisor is None:
            return 1
        worst = 0
        for path in paths:
            source = "".join(ch for ch in path.stem.lower() if ch.isalnum() or ch == "_")[:40] or "import"

            def read(key: str, value: Any, source: str = source) -> ProfileImport:
                return profile_from(key, value, source=source)

            async def write(conn: Conn, rows: list[Any], advisor_id: UUID = advisor.id) -> BatchCounts:
                merged: dict[str, ProfileImport] = {}
                for row in rows:  # one phone twice in a batch (two spellings): merged like two files
                    if row.phone in merged:
                        merged[row.phone].merge(row)
                    else:
                        merged[row.phone] = row
                counts = await import_profiles(conn=conn, advisor_id=advisor_id, batch=list(merged.values()))
                counts.unchanged += len(rows) - len(merged)
                return counts

            worst = max(worst, await _import_file(conn, path, read, write, dry_run=dry_run))
        return worst


def _newer(row: ContactImport, kept: ContactImport) -> bool:
    if row.updated_at is None:
        return False
    return kept.updated_at is None or row.updated_at >= kept.updated_at


async def _import_file(
    conn: Conn,
    path: Path,
    read: Callable[[str, Any], Any],
    write: Callable[[Conn, list[Any]], Any],
    *,
    dry_run: bool,
) -> int:
    """Stream `path`'s records through `read`, write them in batches with `write`, report."""
    try:
        source = path.open("rb")
    except OSError as error:
        return fail(f"{path}: {error.strerror or error}")
    rejects_path = path.with_name(path.name + ".rejects.jsonl")
    report = Report()
    size = max(path.stat().st_size, 1)
    with source, rejects_path.open("w", encoding="utf-8") as rejects, _progress(path.name, size) as progress:
        batch: list[Any] = []
        batch_start = 0
        for key, value in _records(source, report):
            report.records += 1
            try:
                check_record(key, value)
                batch.append(read(key, value))
            except RejectedRecordError as error:
                report.rejected += 1
                kept = value if error.keep else None  # too deep or too large to copy here
                rejected = {"key": key[:200], "reason": str(error), "record": kept}
                rejects.write(json.dumps(rejected, default=str) + "\n")
            position = source.tell()
            if len(batch) >= BATCH or (batch and position - batch_start >= BATCH_BYTES):
                await _write_batch(conn, write, batch, report, dry_run=dry_run)
                batch, batch_start = [], position
            progress.advance(report.records, position)
        if batch:
            await _write_batch(conn, write, batch, report, dry_run=dry_run)
        progress.advance(report.records, size)
    if report.rejected == 0:
        rejects_path.unlink()
    say(report.line(path.name, dry_run=dry_run))
    if report.rejected:
        say(f"rejected records and why: {rejects_path}")
    if report.problem:
        return fail(f"{path.name}: {report.problem}; the records before it were imported, rerun once fixed")
    return 1 if report.rejected else 0


async def _write_batch(
    conn: Conn, write: Callable[[Conn, list[Any]], Any], batch: list[Any], report: Report, *, dry_run: bool
) -> None:
    async with conn.transaction(force_rollback=dry_run):
        report.counts.add(await write(conn, batch))


def _records(source: IO[bytes], report: Report) -> Iterator[tuple[str, Any]]:
    """The top-level object's (key, value) pairs, as they are read; a broken file stops here."""
    start = source.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    source.seek(0)
    if start != b"{":
        report.problem = "not a JSON object keyed by conversation id or phone (it should start with {)"
        return
    try:
        yield from ijson.kvitems(source, "", use_float=True)
    except ijson.common.IncompleteJSONError as error:
        report.problem = (
            f"the file ends early or is not JSON near byte {source.tell():,} ({_first_line(error)})"
        )
    except ijson.common.JSONError as error:
        report.problem = f"not JSON near byte {source.tell():,} ({_first_line(error)})"


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


class _Plain:
    """A progress line every few seconds, for logs and pipes."""

    def __init__(self, name: str, size: int) -> None:
        self._name, self._size = name, size
        self._started = self._shown = time.monotonic()

    def advance(self, records: int, position: int) -> None:
        now = time.monotonic()
        if now - self._shown < PLAIN_PROGRESS_SECONDS:
            return
        self._shown = now
        rate = records / max(now - self._started, 1e-6)
        say(f"{self._name}: {records:,} records, {rate:,.0f}/s, {position / self._size:.0%} of the file")


class _Bar:
    """rich's progress bar: share of the file read, records, records a second, time left."""

    def __init__(self, progress: Any, task: Any) -> None:
        self._progress, self._task = progress, task
        self._started = time.monotonic()

    def advance(self, records: int, position: int) -> None:
        rate = records / max(time.monotonic() - self._started, 1e-6)
        self._progress.update(self._task, completed=position, records=records, rate=rate)


@contextmanager
def _progress(name: str, size: int) -> Iterator[_Progress]:
    if not sys.stderr.isatty():
        yield _Plain(name, size)
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[records]:,} records, {task.fields[rate]:,.0f}/s"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as progress:
        yield _Bar(progress, progress.add_task(name, total=size, records=0, rate=0.0))
