"""The number → advisor cache, in front of the real `advisors` table."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg.rows import dict_row
from starlette.testclient import TestClient

from advisors.models import Advisor
from advisors.repository import get_advisor_by_number
from advisors.resolver import AdvisorResolver
from bot.app import create_app
from bot.settings import Settings
from tests.conftest import Db, inbound_form, signed_post


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _resolver(database_url: str, clock: Clock, calls: list[str], **kwargs: Any) -> AdvisorResolver:
    async def lookup(number: str) -> Advisor | None:
        calls.append(number)
        async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as conn:
            await asyncio.sleep(0.05)  # widen the window in which concurrent misses overlap
            return await get_advisor_by_number(conn=conn, number=number)

    return AdvisorResolver(
        lookup, ttl=kwargs.get("ttl", 86_400), negative_ttl=kwargs.get("negative_ttl", 60), timer=clock
    )


async def test_second_lookup_is_served_from_cache_until_the_ttl_expires(db: Db, database_url: str) -> None:
    advisor_id = db.add_advisor("Ana", "+14155238886")
    clock, calls = Clock(), []
    resolver = _resolver(database_url, clock, calls)

    first = await resolver.resolve("+14155238886")
    second = await resolver.resolve("+14155238886")
    assert first is not None and str(first.id) == advisor_id
    assert second == first
    assert calls == ["+14155238886"]

    db.query("UPDATE advisors SET name = 'Ana María' WHERE id = %s", (advisor_id,))
    clock.now += 86_399
    cached = await resolver.resolve("+14155238886")
    assert cached is not None and cached.name == "Ana"
    clock.now += 2
    refreshed = await resolver.resolve("+14155238886")
    assert refreshed is not None and refreshed.name == "Ana María"
    assert len(calls) == 2
    assert (resolver.stats.hits, resolver.stats.queries) == (2, 2)


async def test_concurrent_misses_for_one_number_cause_one_query(db: Db, database_url: str) -> None:
    db.add_advisor("Ana", "+14155238886")
    clock, calls = Clock(), []
    resolver = _resolver(database_url, clock, calls)
    results = await asyncio.gather(*(resolver.resolve("+14155238886") for _ in range(50)))
    assert {r.name for r in results if r} == {"Ana"}
    assert calls == ["+14155238886"]


async def test_unknown_numbers_are_remembered_briefly(db: Db, database_url: str) -> None:
    clock, calls = Clock(), []
    resolver = _resolver(database_url, clock, calls, negative_ttl=60)
    for _ in range(100):
        assert await resolver.resolve("+14155230000") is None
    assert calls == ["+14155230000"]
    db.add_advisor("Nuevo", "+14155230000")
    clock.now += 61
    found = await resolver.resolve("+14155230000")
    assert found is not None and found.name == "Nuevo"
    assert len(calls) == 2


async def test_a_failed_lookup_is_not_cached(db: Db, database_url: str) -> None:
    attempts = []

    async def flaky(number: str) -> Advisor | None:
        attempts.append(number)
        if len(attempts) == 1:
            raise psycopg.OperationalError("database restarting")
        async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as conn:
            return await get_advisor_by_number(conn=conn, number=number)

    db.add_advisor("Ana", "+14155238886")
    resolver = AdvisorResolver(flaky, ttl=100, negative_ttl=100, timer=Clock())
    try:
        await resolver.resolve("+14155238886")
    except psycopg.OperationalError:
        pass
    else:
        raise AssertionError("the lookup error should reach the caller")
    assert await resolver.resolve("+14155238886") is not None
    assert len(attempts) == 2


def test_webhook_routes_repeat_messages_from_cache(settings: Settings, db: Db) -> None:
    # The advisor exists before the server starts: the NOTIFY of adding it cannot reach the
    # server's listener late and empty the cache between the first request and the next ones.
    advisor_id = db.add_advisor("Ana", "+14155238886")
    with TestClient(create_app(settings)) as client:
        first = signed_post(client, inbound_form("+14155238886", "+573001112200", "Hola 0"))
        assert first.status_code == 200
        # Deactivate the advisor behind the server's back (no trigger, so no NOTIFY): a request
        # that asked the database would now be ignored, one routed from the cache is accepted.
        with psycopg.connect(db.url) as conn:  # one transaction, committed on exit
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute("UPDATE advisors SET is_active = false WHERE id = %s", (advisor_id,))
        for index in range(1, 5):
            response = signed_post(
                client, inbound_form("+14155238886", f"+5730011122{index:02d}", f"Hola {index}")
            )
            assert response.status_code == 200
    stored = db.query("SELECT body FROM messages WHERE direction = 'inbound' ORDER BY id")
    assert [row["body"] for row in stored] == [f"Hola {index}" for index in range(5)]


def test_admin_typed_numbers_are_normalised_on_insert(db: Db) -> None:
    db.add_advisor("Ana", "+1 (415) 523-8886", phone="0057 300 111 2233")
    row = db.query("SELECT phone_number, twilio_phone_number FROM advisors")[0]
    assert row == {"phone_number": "+573001112233", "twilio_phone_number": "+14155238886"}
