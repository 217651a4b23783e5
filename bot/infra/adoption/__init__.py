"""Owns adopting a database that already has tables under the product's names (a business moving in).

The old one-advisor bot ran on `chat_history` and `messages`, and its move plan (seed 004) adds an
`advisors` table. `CREATE TABLE IF NOT EXISTS` skips such tables, so without this step the schema
would be left half made: an `advisors` table without `settings`, and every webhook a 500. Before
the migrations run on a database they have never run on, the tables found are compared with the
product's and brought to it in place, with every row and every unknown column kept: what it will do
is said first (`db upgrade --dry-run` says only that), each table's step runs in one transaction,
and a copy of each changed table stays as `<table>_before_advisor_bot` until
`db upgrade --drop-backups`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

BACKUP_SUFFIX = "_before_advisor_bot"

# The product's columns of `advisors` a legacy table may lack, with what an added one holds.
ADVISOR_COLUMNS: dict[str, str] = {
    "is_active": "boolean DEFAULT true",
    "created_at": "timestamptz DEFAULT now()",
    "settings": "jsonb NOT NULL DEFAULT '{}'::jsonb",
}
# Columns without which a table is not one this step can bring to the product's shape.
ADVISOR_REQUIRED = ("id", "name", "phone_number", "twilio_phone_number")
PRODUCT_TABLES = ("advisors", "chat_history", "messages")


class AdoptionError(RuntimeError):
    """The existing tables cannot be adopted as they are; the message says what to do, in one line."""


@dataclass
class AdoptionStep:
    """What will be done to one existing table, in words and in SQL (one transaction)."""

    table: str
    says: list[str]
    statements: list[str] = field(default_factory=list)


async def _columns(conn: psycopg.AsyncConnection[Any], table: str) -> set[str]:
    cursor = await conn.execute(
        "SELECT column_name AS name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s",
        (table,),
    )
    return {row["name"] for row in await cursor.fetchall()}


async def _exists(conn: psycopg.AsyncConnection[Any], table: str) -> bool:
    cursor = await conn.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (table,))
    row = await cursor.fetchone()
    return bool(row and row["found"])


async def plan_adoption(conn: psycopg.AsyncConnection[Any]) -> list[AdoptionStep]:
    """The steps that bring the existing tables to the product's schema; none for a fresh database.

    Call only before the first migration ran (`0001_core` not recorded): after it, the tables
    are the product's own.

    Raises:
        AdoptionError: a table is under a product name but cannot be adopted as it is.
    """
    steps: list[AdoptionStep] = []
    if await _exists(conn, "advisors"):
        found = await _columns(conn, "advisors")
        lacking = [name for name in ADVISOR_REQUIRED if name not in found]
        if lacking:
            raise AdoptionError(
                f"the existing table advisors lacks {', '.join(lacking)}: it is not one advisor-bot "
                "can adopt; rename it (ALTER TABLE advisors RENAME TO …) and run db upgrade again"
            )
        missing = [name for name in ADVISOR_COLUMNS if name not in found]
        if missing:
            steps.append(
                AdoptionStep(
                    table="advisors",
                    says=[f"advisors: add column {name} ({ADVISOR_COLUMNS[name]})" for name in missing],
                    statements=[
                        f"ALTER TABLE advisors ADD COLUMN {name} {ADVISOR_COLUMNS[name]}"  # ours
                        for name in missing
                    ],
                )
            )
    for table in ("chat_history", "messages"):
        if await _exists(conn, table):
            raise AdoptionError(
                f"this database already has a {table} table from another system: adopting it in "
                "place is not built yet (issue 26); move it aside (ALTER TABLE "
                f"{table} RENAME TO {table}_legacy) to start empty, then run db upgrade again"
            )
    return steps


async def adopt(conn: psycopg.AsyncConnection[Any], steps: list[AdoptionStep]) -> list[str]:
    """Carry out the steps, each in one transaction after a copy of its table; return what was done."""
    done: list[str] = []
    for step in steps:
        async with conn.transaction():
            backup = step.table + BACKUP_SUFFIX
            await conn.execute(f"CREATE TABLE IF NOT EXISTS {backup} AS TABLE {step.table}")  # noqa: S608
            await conn.execute(f"ALTER TABLE {backup} ENABLE ROW LEVEL SECURITY")
            for statement in step.statements:
                await conn.execute(statement)  # built above from our own column list
        done.extend(step.says)
        done.append(f"{step.table}: kept as it was in {backup} (until db upgrade --drop-backups)")
    return done


async def drop_backups(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """Drop the copies adoption kept (`<table>_before_advisor_bot`); return the tables dropped."""
    dropped = []
    for table in PRODUCT_TABLES:
        backup = table + BACKUP_SUFFIX
        if await _exists(conn, backup):
            await conn.execute(f"DROP TABLE {backup}")
            dropped.append(backup)
    return dropped
