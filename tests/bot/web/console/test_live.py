"""Live console changes: the poll that tells open pages which conversations changed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID

import psycopg
import psycopg_pool
import pytest
from psycopg_pool import AsyncConnectionPool

from bot.web.live import ChangePoll, ConsoleHub
from tests.conftest import Db

ANA, BRUNO, CUSTOMER = "+14155238886", "+14155238887", "+573001112233"


def _changes(subscription_queue: asyncio.Queue[str]) -> list[str]:
    seen = []
    while not subscription_queue.empty():
        seen.append(subscription_queue.get_nowait())
    return seen


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool[psycopg.AsyncConnection[dict]]]:  # type: ignore[type-arg]
    async with AsyncConnectionPool(
        database_url, kwargs={"row_factory": psycopg.rows.dict_row}, min_size=1, max_size=2, open=False
    ) as opened:
        yield opened


def _two_conversations(db: Db) -> tuple[str, str, str, str]:
    ana = db.add_advisor("Ana", ANA)
    bruno = db.add_advisor("Bruno", BRUNO, phone="+573009990002")
    db.query(
        "INSERT INTO chat_history (advisor_id, phone_number) VALUES (%s, %s), (%s, %s)",
        (ana, CUSTOMER, bruno, CUSTOMER),
    )
    anas, brunos = (
        str(db.conversation(advisor, CUSTOMER)["conversation_id"])  # type: ignore[index]
        for advisor in (ana, bruno)
    )
    return ana, anas, bruno, brunos


async def test_the_poll_tells_each_change_once_and_only_to_its_advisor(
    db: Db, pool: AsyncConnectionPool
) -> None:  # type: ignore[type-arg]
    ana, anas, bruno, brunos = _two_conversations(db)
    hub = ConsoleHub()
    poll = ChangePoll(pool, hub)
    with hub.subscribe(UUID(ana)) as for_ana, hub.subscribe(None) as for_admin:
        await poll.look()  # the first look tells the last seconds' changes: the new conversations
        assert _changes(for_ana.changes) == [anas]
        assert sorted(_changes(for_admin.changes)) == sorted([anas, brunos])
        db.query(
            "INSERT INTO messages (advisor_id, conversation_id, direction, author, body, status) "
            "VALUES (%s, %s, 'inbound', 'customer', 'hola', 'received'), "
            "(%s, %s, 'inbound', 'customer', 'hola', 'received')",
            (ana, anas, bruno, brunos),
        )
        await poll.look()
        await poll.look()  # within the look-back window: not told again
        assert _changes(for_ana.changes) == [anas]
        assert sorted(_changes(for_admin.changes)) == sorted([anas, brunos])
        # Every write of the app bumps updated_at, which is what the poll looks for.
        db.query("UPDATE messages SET status = 'answered', updated_at = now() WHERE advisor_id = %s", (ana,))
        await poll.look()
        assert _changes(for_ana.changes) == [anas]
        assert _changes(for_admin.changes) == [anas]


async def test_profiles_and_notes_are_changes_too(db: Db, pool: AsyncConnectionPool) -> None:  # type: ignore[type-arg]
    """A profile edit bumps `profile_updated_at`, not `updated_at` (the inbox's order): both count."""
    ana, anas, bruno, brunos = _two_conversations(db)
    hub = ConsoleHub()
    poll = ChangePoll(pool, hub)
    with hub.subscribe(None) as for_admin:
        await poll.look()
        _changes(for_admin.changes)
        db.query("UPDATE chat_history SET profile_updated_at = now() WHERE advisor_id = %s", (ana,))
        await poll.look()
        assert _changes(for_admin.changes) == [anas]
        db.query(
            "INSERT INTO conversation_notes (advisor_id, conversation_id, author, body) "
            "VALUES (%s, %s, 'Bruno', 'llamar mañana')",
            (bruno, brunos),
        )
        await poll.look()
        assert _changes(for_admin.changes) == [brunos]


async def test_no_look_while_no_page_is_open(db: Db, database_url: str) -> None:
    _two_conversations(db)
    hub = ConsoleHub()
    closed: AsyncConnectionPool = AsyncConnectionPool(database_url, open=False)  # type: ignore[type-arg]
    poll = ChangePoll(closed, hub)
    await poll.look()  # nobody listens: the closed pool is never asked for a connection
    with hub.subscribe(None), pytest.raises(psycopg_pool.PoolClosed):
        await poll.look()
