"""Live console changes: the poll that tells open pages which conversations changed."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from uuid import UUID

import httpx
import psycopg
import psycopg_pool
import pytest
from playwright.sync_api import Page
from psycopg_pool import AsyncConnectionPool

from bot.settings import Settings
from bot.web.live import ChangePoll, ConsoleHub, stream
from tests.bot.web.console.conftest import Console, served_console
from tests.conftest import Db
from tests.fakes import FakeTwilio

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


async def test_a_busy_stream_closes_soon_after_its_session_ends() -> None:
    """Issue 23, finding 10: 30 events in 41 s went out after a sign-out; now none past a recheck."""
    hub = ConsoleHub()
    signed_in = True

    async def still_allowed() -> bool:
        return signed_in

    async def busy(changes: asyncio.Queue[str]) -> None:
        while True:  # a change every 20 ms, so the 15 s keep-alive never comes
            with contextlib.suppress(asyncio.QueueFull):
                changes.put_nowait("c")
            await asyncio.sleep(0.02)

    loop = asyncio.get_running_loop()
    told_after_sign_out, ended, signed_out_at = 0, False, 0.0
    with hub.subscribe(None) as subscription:
        feeder = asyncio.create_task(busy(subscription.changes))
        async for chunk in stream(subscription, still_allowed=still_allowed, recheck_seconds=0.3):
            if chunk.startswith("event: ended"):
                ended = True
                break
            if chunk.startswith("event: change"):
                if signed_in:
                    signed_in, signed_out_at = False, loop.time()  # signed out after the first change
                else:
                    told_after_sign_out += 1
            assert loop.time() - (signed_out_at or loop.time()) < 5, "the stream never closed"
        feeder.cancel()
    assert ended and loop.time() - signed_out_at < 1.0
    assert told_after_sign_out <= 0.3 / 0.02 + 2


@pytest.fixture
def tight_console(
    db: Db, make_settings: Callable[..., Settings], fake_twilio: FakeTwilio, database_url: str
) -> Iterator[Console]:
    """The console with a per-address cap below the per-session stream cap."""
    with served_console(
        db,
        make_settings,
        fake_twilio,
        database_url,
        max_connections_per_client=4,
        console_streams_per_session=6,
    ) as served:
        yield served


def test_open_tabs_never_lock_their_address_out(tight_console: Console, page: Page) -> None:
    """Issue 23, finding 11: streams have their own per-session cap, not the per-address one."""
    console = tight_console
    ana = console.db.add_advisor("Ana", ANA)
    console.sign_in(page, ana)
    page.goto("about:blank")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    limit = console.settings.console_streams_per_session
    cap = console.settings.max_connections_per_client

    def open_all(stack: contextlib.ExitStack) -> bool:
        for _ in range(limit):
            client = stack.enter_context(httpx.Client(cookies=cookies, timeout=10))
            if stack.enter_context(client.stream("GET", f"{console.base}/console/events")).status_code != 200:
                return False
        return True

    # The signed-in page's own stream ends once the server notices the tab left: until then one
    # slot is still taken, so the `limit` streams are tried again for a little while.
    deadline = time.monotonic() + 15
    while True:
        streams = contextlib.ExitStack()
        if open_all(streams):
            break
        streams.close()
        assert time.monotonic() < deadline, "the page's own stream never ended"
        time.sleep(0.2)
    with streams:
        one_more = httpx.get(f"{console.base}/console/events", cookies=cookies, timeout=10)
        assert one_more.status_code == 429
        # Every page still answers from this address, although more streams than the per-address
        # cap allows would be open with the cap below.
        for _ in range(3):
            assert httpx.get(f"{console.base}/console", cookies=cookies, timeout=10).status_code == 200
        assert httpx.get(f"{console.base}/console/login", timeout=10).status_code == 200
    assert limit > cap
