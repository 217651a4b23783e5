"""Live console changes: NOTIFY on every change, and the poll that replaces LISTEN behind a pooler."""

from __future__ import annotations

import asyncio
from uuid import UUID

import psycopg

from bot.web.live import ChangePoll, ConsoleHub, follow_changes
from tests.conftest import Db

ANA, BRUNO, CUSTOMER = "+14155238886", "+14155238887", "+573001112233"


def _changes(subscription_queue: asyncio.Queue[str]) -> list[str]:
    seen = []
    while not subscription_queue.empty():
        seen.append(subscription_queue.get_nowait())
    return seen


async def test_the_poll_tells_each_change_once_and_only_to_its_advisor(db: Db, database_url: str) -> None:
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
    hub = ConsoleHub()
    poll = ChangePoll(database_url, hub, connection_kwargs={"row_factory": psycopg.rows.dict_row})
    with hub.subscribe(UUID(ana)) as for_ana, hub.subscribe(None) as for_admin:
        await poll.look()  # the first look only notes the time
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


async def test_a_committed_change_is_notified_to_a_listening_process(db: Db, database_url: str) -> None:
    ana = db.add_advisor("Ana", ANA)
    hub = ConsoleHub()
    ready = asyncio.Event()
    listener = asyncio.create_task(follow_changes(database_url, hub, connection_kwargs={}, ready=ready))
    try:
        with hub.subscribe(UUID(ana)) as for_ana:
            await asyncio.wait_for(ready.wait(), 10)
            db.query("INSERT INTO chat_history (advisor_id, phone_number) VALUES (%s, %s)", (ana, CUSTOMER))
            changed = await asyncio.wait_for(for_ana.changes.get(), 10)
            assert changed == str(db.conversation(ana, CUSTOMER)["conversation_id"])  # type: ignore[index]
    finally:
        listener.cancel()
