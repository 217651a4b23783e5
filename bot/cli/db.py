"""Owns `advisor-bot db upgrade` and `advisor-bot db seed`: the schema and the admins' SQL seeds."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import psycopg

from bot.cli.console import fail, say
from bot.infra.adoption import AdoptionError, drop_backups
from bot.infra.database import connection_kwargs, resolve_database
from bot.migrations import MigrationError, upgrade
from bot.settings import Settings


def upgrade_stopped(error: MigrationError | AdoptionError) -> str:
    """The one line for an upgrade that stopped; "nothing changed" only when nothing did."""
    changed = isinstance(error, AdoptionError) and error.changed
    return f"the upgrade stopped{'' if changed else ', nothing changed'}: {error}"


async def db_upgrade(
    settings: Settings, *, dry_run: bool = False, drop: bool = False, legacy_advisor: str | None = None
) -> int:
    """Apply pending migrations and say which, through MIGRATION_DATABASE_URL when it is set.

    Existing tables of another system are adopted first, and what is done to them is said
    (`dry_run`: only said). `drop`: the copies adoption kept are dropped afterwards.
    `legacy_advisor`: whose the adopted rows without an advisor are (a Twilio number or an id).
    """
    if settings.migration_database_url is not None:
        settings = settings.model_copy(update={"database_url": settings.migration_database_url})
    database = resolve_database(settings)
    try:
        report = await upgrade(database, dry_run=dry_run, legacy_advisor=legacy_advisor)
    except (MigrationError, AdoptionError) as error:
        return fail(upgrade_stopped(error))
    for said in report.adopted:
        say(("would change " if dry_run else "changed ") + said)
    if dry_run:
        say("dry run, nothing changed; pending: " + (", ".join(report.applied) or "nothing"))
        return 0
    if drop:
        async with await psycopg.AsyncConnection.connect(
            database.conninfo, **connection_kwargs(database, autocommit=True)
        ) as conn:
            dropped = await drop_backups(conn)
        say("dropped: " + (", ".join(dropped) or "no backups were kept"))
    if report.applied:
        say("applied: " + ", ".join(report.applied))
    else:
        say("schema is up to date; nothing to apply")
    return 0


async def db_seed(settings: Settings, file: Path | None, *, if_empty: bool) -> int:
    """Run a seed file in one transaction: all of it, or (with the database's reason) none of it."""
    if file is None:
        sql = resources.files("sql").joinpath("seed.sql").read_text(encoding="utf-8")
        name = "sql/seed.sql"
    else:
        if not file.is_file():
            return fail(f"no such file: {file}")
        sql, name = file.read_text(encoding="utf-8"), str(file)
    database = resolve_database(settings)
    await upgrade(database)
    async with await psycopg.AsyncConnection.connect(
        database.conninfo, **connection_kwargs(database)
    ) as conn:
        before = await _count(conn)
        if if_empty and before > 0:
            say(f"{before} advisors already registered; seed skipped")
            return 0
        try:
            async with conn.transaction():
                await conn.execute(sql)  # an admin's own seed file
        except psycopg.Error as error:
            return fail(f"{name} was not applied, nothing changed: {_reason(error)}")
        after = await _count(conn)
    say(f"seeded {name}: {after - before} advisors added, {after} registered")
    return 0


async def _count(conn: psycopg.AsyncConnection[dict[str, int]]) -> int:
    row = await (await conn.execute("SELECT count(*) AS n FROM advisors")).fetchone()
    return int(row["n"]) if row else 0


def _reason(error: psycopg.Error) -> str:
    """The database's message and hint on one line (they name the row and the value)."""
    diag = error.diag
    text = diag.message_primary or str(error).strip().splitlines()[0]
    if diag.message_hint:
        text += f" ({diag.message_hint})"
    return text
