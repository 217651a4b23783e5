"""Owns what the admin commands share: a database connection, finding the advisor meant, a date.

An advisor is named by id or Twilio number; a name that finds nothing, or an inactive advisor
where an active one is needed, ends the command with one `error:` line saying what to do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import psycopg

from advisors.models import Advisor
from advisors.repository import find_advisor
from bot.cli.console import fail
from bot.infra.database import connection_kwargs, resolve_database
from bot.settings import Settings

Conn = psycopg.AsyncConnection[Any]


@asynccontextmanager
async def connection(settings: Settings, *, autocommit: bool = False) -> AsyncIterator[Conn]:
    """One connection to the configured database, for one command.

    Without autocommit the whole command is one transaction, committed when it succeeds;
    with it, each `conn.transaction()` block commits on its own (imports, batch by batch).
    """
    database = resolve_database(settings)
    async with await psycopg.AsyncConnection.connect(
        database.conninfo, **connection_kwargs(database, autocommit=autocommit)
    ) as conn:
        yield conn


async def advisor_named(conn: Conn, ref: str) -> Advisor | None:
    """The advisor `ref` names (id or Twilio number), or None after saying there is none."""
    advisor = await find_advisor(conn=conn, ref=ref)
    if advisor is None:
        fail(f"no advisor {ref!r} (give the advisor's id or Twilio number; `advisor-bot advisors list`)")
    return advisor


async def active_advisor_named(conn: Conn, ref: str) -> Advisor | None:
    """Like `advisor_named`, and None after saying so when the advisor is inactive."""
    advisor = await advisor_named(conn, ref)
    if advisor is not None and not advisor.is_active:
        fail(f"{advisor.name} is inactive; activate them first (`advisor-bot advisors activate {ref}`)")
        return None
    return advisor


def when(moment: datetime | None) -> str:
    """A moment as the command line lists it, or "-"."""
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"
