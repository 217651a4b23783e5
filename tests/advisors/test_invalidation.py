"""Advisors registered or deactivated by SQL reach the running server within seconds."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.conftest import Db, inbound_form, signed_post, wait_for

NEW_NUMBER = "+14155550199"
CUSTOMER = "+573001112233"


def _stored(db: Db, body: str) -> bool:
    return bool(db.query("SELECT 1 FROM messages WHERE body = %s", (body,)))


def _routes_within_seconds(client: TestClient, db: Db, number: str, *, expect_stored: bool) -> None:
    """Post fresh messages until the expected routing shows (each has its own MessageSid)."""
    attempt = 0

    def probe() -> bool:
        nonlocal attempt
        attempt += 1
        body = f"sondeo {number} {attempt}"
        assert signed_post(client, inbound_form(number, CUSTOMER, body)).status_code == 200
        return _stored(db, body) == expect_stored

    wait_for(probe, timeout=10, what=f"routing of {number} to become {expect_stored}")


def test_an_advisor_inserted_by_sql_routes_without_restart(client: TestClient, db: Db) -> None:
    signed_post(client, inbound_form(NEW_NUMBER, CUSTOMER, "antes"))
    assert not _stored(db, "antes")  # unknown, and now remembered as unknown for a minute
    db.query(
        "INSERT INTO advisors (name, phone_number, twilio_phone_number, is_active) "
        "VALUES ('Nueva', '+573005550199', %s, true)",
        (NEW_NUMBER,),
    )
    _routes_within_seconds(client, db, NEW_NUMBER, expect_stored=True)


def test_a_deactivated_advisor_stops_routing_within_seconds(client: TestClient, db: Db) -> None:
    advisor_id = db.add_advisor("Ana", NEW_NUMBER)
    signed_post(client, inbound_form(NEW_NUMBER, CUSTOMER, "cacheado"))
    assert _stored(db, "cacheado")  # now cached for 24 h
    db.query("UPDATE advisors SET is_active = false WHERE id = %s", (advisor_id,))
    _routes_within_seconds(client, db, NEW_NUMBER, expect_stored=False)


def test_a_changed_number_moves_routing(client: TestClient, db: Db) -> None:
    advisor_id = db.add_advisor("Ana", NEW_NUMBER)
    signed_post(client, inbound_form(NEW_NUMBER, CUSTOMER, "viejo"))
    db.query("UPDATE advisors SET twilio_phone_number = '+14155550200' WHERE id = %s", (advisor_id,))
    _routes_within_seconds(client, db, NEW_NUMBER, expect_stored=False)
    _routes_within_seconds(client, db, "+14155550200", expect_stored=True)


def test_behind_a_pooler_the_table_is_polled_instead(db: Db, database_url: str) -> None:
    import asyncio

    from advisors.invalidation import FingerprintWatch
    from advisors.resolver import AdvisorResolver

    calls: list[str] = []

    async def lookup(number: str) -> None:
        calls.append(number)

    async def scenario() -> None:
        resolver = AdvisorResolver(lookup, ttl=86_400, negative_ttl=86_400)  # type: ignore[arg-type]
        ready = asyncio.Event()
        watch = FingerprintWatch(database_url, [resolver], connection_kwargs={}, ready=ready)
        await watch.look()
        assert ready.is_set()
        await resolver.resolve(NEW_NUMBER)
        await watch.look()  # nothing changed: the cached answer stands
        await resolver.resolve(NEW_NUMBER)
        assert calls == [NEW_NUMBER]
        db.add_advisor("Nueva", NEW_NUMBER)
        await watch.look()  # the table changed: the cache is dropped
        await resolver.resolve(NEW_NUMBER)
        assert calls == [NEW_NUMBER, NEW_NUMBER]

    asyncio.run(scenario())
