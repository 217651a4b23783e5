"""Owns the schema: applies `sql/NNNN_*.sql`, the job queue's and the checkpointer's schema once.

Every step is tracked in `advisor_bot_migrations` and runs under one advisory lock, so running
`advisor-bot db upgrade` on every start, from several processes at once, is safe.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
from procrastinate.schema import SchemaManager

from bot.infra.adoption import adopt, plan_adoption
from bot.infra.database import Database, connection_kwargs
from memory.lockdown import lock_down_tables

logger = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every process of this application.
MIGRATION_LOCK_KEY = 7_246_813_021
PROCRASTINATE_STEP = "procrastinate-schema"
FIRST_STEP = "0001_core"
# The job queue's schema came in after 0014; later files may build on its tables.
QUEUE_SCHEMA_BEFORE = "0015"
CHECKPOINTER_DISTRIBUTION = "langgraph-checkpoint-postgres"

_TRACKING_TABLE = """
CREATE TABLE IF NOT EXISTS advisor_bot_migrations (
    version text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass
class UpgradeReport:
    """What one upgrade run did; an empty `applied` list means the schema was already current.

    `adopted`: what was done (or, in a dry run, would be done) to tables found under the
    product's names before its first migration (bot.infra.adoption).
    """

    applied: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)


def migration_files() -> list[tuple[str, str]]:
    """Return (version, sql) for each migration shipped in the `sql` package, in order."""
    folder = resources.files("sql")
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name[:4].isdigit() and entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    return [(Path(entry.name).stem, entry.read_text(encoding="utf-8")) for entry in files]


async def _acquire_lock(conn: psycopg.AsyncConnection[Any], *, timeout: float = 300.0) -> None:
    """Take the migration lock by polling, never by waiting inside a statement.

    A process blocked in `pg_advisory_lock` sits in an open transaction, and the checkpointer's
    `CREATE INDEX CONCURRENTLY` waits for every open transaction: the two would deadlock.
    """
    deadline = time.monotonic() + timeout
    while True:
        cursor = await conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (MIGRATION_LOCK_KEY,))
        row = await cursor.fetchone()
        if row and row["ok"]:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("another process has held the migration lock for too long")
        await asyncio.sleep(0.1)


SUMMARIES_STEP = "0026-summaries-from-checkpoints"


async def _copy_summaries(conn: psycopg.AsyncConnection[Any]) -> int:
    """Copy the AI's running summaries from its checkpoints into the records, once (sql/0026).

    From then on the worker keeps the copy current; the summaries of memories made before it did
    would otherwise be missing from the customers' exports.
    """
    from memory.ai.checkpointer import summaries_in_checkpoints  # only here: it loads LangGraph

    copied = 0
    for thread, summary, through in await summaries_in_checkpoints(conn):
        result = await conn.execute(
            "INSERT INTO conversation_summaries (advisor_id, conversation_id, summary, through_message_id) "
            "SELECT advisor_id, conversation_id, %s, %s FROM chat_history "
            "WHERE advisor_id::text || '_' || phone_number = %s ON CONFLICT DO NOTHING",
            (summary, through, thread),
        )
        copied += result.rowcount
    return copied


class MigrationError(RuntimeError):
    """The schema cannot be upgraded through this connection; the message says what to do."""


def _steps() -> list[tuple[str, str]]:
    """Every step in the order a fresh database gets them: the job queue's in its historical place."""
    files = migration_files()
    before = [step for step in files if step[0] < QUEUE_SCHEMA_BEFORE]
    after = [step for step in files if step[0] >= QUEUE_SCHEMA_BEFORE]
    return [*before, (PROCRASTINATE_STEP, SchemaManager.get_schema()), *after]


def checkpointer_step() -> str:
    """The step that records the checkpointer's schema as set up by the installed version.

    Read from the package metadata, not from LangGraph itself: a process that only serves the
    web (and never runs the agent) can tell the schema is current without importing LangGraph.
    """
    return f"{CHECKPOINTER_DISTRIBUTION}=={importlib.metadata.version(CHECKPOINTER_DISTRIBUTION)}"


async def _applied(conn: psycopg.AsyncConnection[Any]) -> set[str]:
    """Return the steps already applied (none before the tracking table exists)."""
    cursor = await conn.execute("SELECT to_regclass('advisor_bot_migrations') IS NOT NULL AS tracked")
    row = await cursor.fetchone()
    if not row or not row["tracked"]:
        return set()
    cursor = await conn.execute("SELECT version FROM advisor_bot_migrations")
    return {r["version"] for r in await cursor.fetchall()}


async def upgrade(
    database: Database, *, dry_run: bool = False, legacy_advisor: str | None = None
) -> UpgradeReport:
    """Apply every pending migration; a no-op when the schema is current.

    A current schema is detected without any lock, so every start of every process is cheap.
    Behind a transaction pooler a session lock cannot be held, so there it only checks. With
    `dry_run`, nothing changes: the report says what adopting the existing tables would do and
    which steps are pending. `legacy_advisor` (a Twilio number or advisor id) owns the rows of
    adopted tables that name no advisor.

    Raises:
        AdoptionError: existing tables under the product's names cannot be adopted as they are.
    """
    report = UpgradeReport()
    async with await psycopg.AsyncConnection.connect(
        database.conninfo, **connection_kwargs(database, autocommit=True)
    ) as conn:
        wanted = [version for version, _ in _steps()] + [checkpointer_step(), SUMMARIES_STEP]
        if set(wanted) <= await _applied(conn):
            return report
        if database.transaction_pooler:
            raise MigrationError(
                "the schema needs upgrading, which a transaction pooler cannot do safely: run "
                "`advisor-bot db upgrade` once with the direct or session connection string "
                "(port 5432) as DATABASE_URL"
            )
        if dry_run:
            done = await _applied(conn)
            if FIRST_STEP not in done:
                steps = await plan_adoption(conn, legacy_advisor=legacy_advisor)
                report.adopted = [said for step in steps for said in step.told()]
            report.applied = [version for version in wanted if version not in done]
            return report
        await _acquire_lock(conn)
        try:
            done = await _applied(conn)
            if FIRST_STEP not in done:  # tables of another system may be here: brought in first
                steps = await plan_adoption(conn, legacy_advisor=legacy_advisor)  # refused: nothing changed
                report.adopted = await adopt(conn, steps)
                for said in report.adopted:
                    logger.warning("existing table adopted", extra={"change": said})
            await conn.execute(_TRACKING_TABLE)
            for version, sql in _steps():
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)  # trusted files we ship
                    await conn.execute("INSERT INTO advisor_bot_migrations (version) VALUES (%s)", (version,))
                report.applied.append(version)
                logger.info("migration applied", extra={"version": version})
            if checkpointer_step() not in done:
                from memory.ai.checkpointer import setup_checkpointer  # only here: it loads LangGraph

                checkpointer_steps = await setup_checkpointer(conn)
                await conn.execute(
                    "INSERT INTO advisor_bot_migrations (version) VALUES (%s) ON CONFLICT DO NOTHING",
                    (checkpointer_step(),),
                )
                if checkpointer_steps:
                    report.applied.append(f"langgraph-checkpoint ({checkpointer_steps} steps)")
            if SUMMARIES_STEP not in done:
                copied = await _copy_summaries(conn)
                await conn.execute(
                    "INSERT INTO advisor_bot_migrations (version) VALUES (%s) ON CONFLICT DO NOTHING",
                    (SUMMARIES_STEP,),
                )
                report.applied.append(f"{SUMMARIES_STEP} ({copied} copied)")
            if report.applied:
                await lock_down_tables(conn)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return report


async def upgrade_on_start(database: Database) -> UpgradeReport:
    """Apply pending migrations as a process starts, and say so in the log when any ran."""
    report = await upgrade(database)
    if report.applied:
        logger.info("database schema upgraded", extra={"steps": report.applied})
    return report
