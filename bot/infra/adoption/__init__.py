"""Owns adopting a database that already has tables under the product's names (a business moving in).

The old one-advisor bot ran on `chat_history` and `messages`, and its move plan (seed 004) adds an
`advisors` table and an `advisor_id` to both. `CREATE TABLE IF NOT EXISTS` skips such tables, so
without this step the schema would be left half made. Before the migrations run on a database they
have never run on, the tables found are brought to the product's first schema (sql/0001_core.sql)
in place, every row and every unknown column kept: what will be done is said first
(`db upgrade --dry-run` says only that), everything is checked before anything changes, each step
runs in one transaction, and a copy of each changed table stays as `<table>_before_advisor_bot`
until `db upgrade --drop-backups`. The later migrations then run as on any database.
"""

from __future__ import annotations

from typing import Any

import psycopg

from bot.infra.adoption.advisors import advisors_step
from bot.infra.adoption.catalog import exists
from bot.infra.adoption.conversations import plan_conversations
from bot.infra.adoption.messages import plan_messages
from bot.infra.adoption.steps import BACKUP_SUFFIX, AdoptionError, AdoptionStep

__all__ = ["BACKUP_SUFFIX", "AdoptionError", "AdoptionStep", "adopt", "drop_backups", "plan_adoption"]

PRODUCT_TABLES = ("advisors", "chat_history", "messages")


async def plan_adoption(
    conn: psycopg.AsyncConnection[Any], *, legacy_advisor: str | None = None
) -> list[AdoptionStep]:
    """The steps that bring the existing tables to the product's schema; none for a fresh database.

    Call only before the first migration ran (`0001_core` not recorded): after it, the tables
    are the product's own. `legacy_advisor` (a Twilio number or an advisor id) owns the old
    rows that have no advisor.

    Raises:
        AdoptionError: a table is under a product name but cannot be adopted as it is; nothing changed.
    """
    steps = [step for step in [await advisors_step(conn)] if step is not None]
    has_history, has_messages = await exists(conn, "chat_history"), await exists(conn, "messages")
    if has_messages and not has_history:
        raise AdoptionError(
            "this database has a messages table but no chat_history: its rows belong to no customer "
            "advisor-bot can find; rename it (ALTER TABLE messages RENAME TO messages_legacy) to start empty"
        )
    if has_history:
        step = AdoptionStep(tables=("chat_history", "messages") if has_messages else ("chat_history",))
        conversations = await plan_conversations(conn, step, legacy_advisor)
        if has_messages:
            await plan_messages(conn, step, conversations)
        steps.append(step)
    return steps


async def adopt(conn: psycopg.AsyncConnection[Any], steps: list[AdoptionStep]) -> list[str]:
    """Carry out the steps, each in one transaction after a copy of its tables; return what was done.

    Raises:
        AdoptionError: the database refused a statement; that step changed nothing, the ones
            before it stay done (and are said in the message).
    """
    done: list[str] = []
    for step in steps:
        try:
            async with conn.transaction():
                for table in step.tables:
                    backup = table + BACKUP_SUFFIX
                    await conn.execute(f"CREATE TABLE IF NOT EXISTS {backup} AS TABLE {table}")  # noqa: S608
                    await conn.execute(f"ALTER TABLE {backup} ENABLE ROW LEVEL SECURITY")
                for statement in step.statements:
                    await conn.execute(statement)  # built by this package from the catalogue
        except psycopg.Error as error:
            reason = (error.diag.message_primary or str(error)).strip().splitlines()[0]
            before = f" (done before it: {'; '.join(done)})" if done else ""
            raise AdoptionError(
                f"adopting {', '.join(step.tables)} failed and was undone: {reason}{before}",
                changed=bool(done),
            ) from error
        done.extend(step.told())
    return done


async def drop_backups(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """Drop the copies adoption kept (`<table>_before_advisor_bot`); return the tables dropped."""
    dropped = []
    for table in PRODUCT_TABLES:
        backup = table + BACKUP_SUFFIX
        if await exists(conn, backup):
            await conn.execute(f"DROP TABLE {backup}")
            dropped.append(backup)
    return dropped
