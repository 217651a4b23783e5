"""HubSpot sync through the official client, against a local fake HubSpot: contacts, notes, failures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from bot.settings import Settings
from bot.worker.hubspot_sync import BATCH, HubSpotSync, SyncCounts, TransientCrmError
from tests.conftest import Db
from tests.fakes import FakeHubSpot, start_fake_hubspot

ANA = "+14155238886"


@pytest.fixture
def fake_hubspot() -> Iterator[FakeHubSpot]:
    fake = start_fake_hubspot()
    yield fake
    assert fake.server is not None
    fake.server.close()


def _hubspot_settings(make_settings: Callable[..., Settings], fake: FakeHubSpot) -> Settings:
    return make_settings(
        hubspot_access_token="pat-test-token", hubspot_create_contacts=True, hubspot_api_base_url=fake.url
    )


def _run(settings: Settings, db: Db, *, today: datetime | None = None) -> SyncCounts:
    async def run() -> SyncCounts:
        async with AsyncConnectionPool(
            db.url, kwargs={"row_factory": dict_row, "autocommit": True}, open=False, min_size=1, max_size=2
        ) as pool:
            return await HubSpotSync(settings).run(pool, today=today.date() if today else None)

    return asyncio.run(run())


def test_profiles_handovers_and_days_reach_hubspot_once_and_failures_wait_for_the_next_run(
    make_settings: Callable[..., Settings], db: Db, fake_hubspot: FakeHubSpot
) -> None:
    settings = _hubspot_settings(make_settings, fake_hubspot)
    ana = db.add_advisor("Ana", ANA, phone="+573009990001")
    fake_hubspot.contacts["1000"] = {"firstname": "Old"}
    linked = db.add_customer(ana, "+573001000001", name="Camila Restrepo", labels=["vip", "apartamento"])
    db.query(
        "UPDATE chat_history SET crm_refs = %s WHERE conversation_id = %s",
        (json.dumps({"hubspot": "1000"}), linked),
    )
    named = db.add_customer(ana, "+573001000002", name="Andrés", labels=[])
    nameless = db.add_customer(ana, "+573001000003", name="x", labels=[])
    db.query("UPDATE customer_profiles SET name = NULL WHERE conversation_id = %s", (nameless,))
    db.query("UPDATE chat_history SET profile_name = NULL WHERE conversation_id = %s", (nameless,))

    # HubSpot down: the run fails as a whole (the queue retries it); nothing is marked done.
    fake_hubspot.failures = [503]
    with pytest.raises(TransientCrmError):
        _run(settings, db)
    assert db.count("crm_sync") == 0

    first = _run(settings, db)
    assert (first.contacts_updated, first.contacts_created) == (1, 1)
    assert fake_hubspot.contacts["1000"] == {
        "firstname": "Camila",
        "lastname": "Restrepo",
        "phone": "+573001000001",
        "advisor_bot_labels": "vip;apartamento",
    }
    created = db.query(
        "SELECT crm_refs->>'hubspot' AS id FROM chat_history WHERE conversation_id = %s", (named,)
    )
    assert fake_hubspot.contacts[created[0]["id"]]["firstname"] == "Andrés"
    nameless_refs = db.query("SELECT crm_refs FROM chat_history WHERE conversation_id = %s", (nameless,))
    assert nameless_refs == [{"crm_refs": {}}]  # nothing to create a contact from
    assert _run(settings, db) == SyncCounts()  # nothing changed, nothing sent

    # A label added, a handover, a day of conversation: each reaches HubSpot once.
    db.query(
        "UPDATE customer_profiles SET labels = %s WHERE conversation_id = %s",
        (json.dumps(["vip", "apartamento", "compra"]), linked),
    )
    db.query("UPDATE chat_history SET profile_updated_at = now() WHERE conversation_id = %s", (linked,))
    db.query(
        "INSERT INTO handovers (advisor_id, conversation_id, reason) VALUES (%s, %s, 'quiere negociar')",
        (ana, linked),
    )
    db.query(
        "INSERT INTO messages (advisor_id, conversation_id, direction, author, body, status) VALUES"
        " (%s, %s, 'inbound', 'customer', '¿Tienen parqueadero?', 'answered'),"
        " (%s, %s, 'outbound', 'ai', 'Sí, cubierto <incluido>.', 'sent')",
        (ana, linked, ana, linked),
    )
    later = _run(settings, db, today=datetime.now(UTC) + timedelta(days=1))
    assert (later.contacts_updated, later.handover_notes, later.day_notes) == (1, 1, 1)
    assert fake_hubspot.contacts["1000"]["advisor_bot_labels"] == "vip;apartamento;compra"
    bodies = [note["properties"]["hs_note_body"] for note in fake_hubspot.notes]
    assert any("quiere negociar" in body for body in bodies)
    day = next(body for body in bodies if "Conversación de WhatsApp" in body)
    assert "¿Tienen parqueadero?" in day and "Sí, cubierto &lt;incluido&gt;." in day  # escaped HTML
    assert all(note["associations"][0]["to"]["id"] == "1000" for note in fake_hubspot.notes)
    assert all(note["associations"][0]["types"][0]["associationTypeId"] == 202 for note in fake_hubspot.notes)
    assert _run(settings, db, today=datetime.now(UTC) + timedelta(days=1)) == SyncCounts()

    # A contact deleted in HubSpot is refused; the error stays on that conversation only.
    del fake_hubspot.contacts["1000"]
    db.query(
        "UPDATE chat_history SET profile_updated_at = now() WHERE conversation_id IN (%s, %s)",
        (linked, named),
    )
    refused = _run(settings, db)
    assert refused.refused == 1 and refused.contacts_updated == 1
    errors = db.query(
        "SELECT conversation_id::text AS id, last_error FROM crm_sync WHERE last_error IS NOT NULL"
    )
    assert errors == [{"id": linked, "last_error": "HubSpot answered 404"}]


def test_more_refused_contacts_than_a_batch_never_stall_the_others(
    make_settings: Callable[..., Settings], db: Db, fake_hubspot: FakeHubSpot
) -> None:
    """Issue 23, finding 13: 200 refusals were retried every pass and everyone after them waited."""
    settings = _hubspot_settings(make_settings, fake_hubspot)
    ana = db.add_advisor("Ana", ANA, phone="+573009990001")
    refused_count = BATCH + 15
    refused = db.query(
        "INSERT INTO chat_history (advisor_id, phone_number, profile_name, crm_refs) "
        "SELECT %s, '+5730020' || lpad(n::text, 5, '0'), 'Borrado ' || n, "
        " jsonb_build_object('hubspot', (900000 + n)::text) "  # contacts deleted in HubSpot: 404
        "FROM generate_series(1, %s) n RETURNING conversation_id",
        (ana, refused_count),
    )
    good = [db.add_customer(ana, f"+5730099000{n:02d}", name=f"Cliente {n}", labels=[]) for n in range(5)]
    first, second = _run(settings, db), _run(settings, db)
    assert first.refused + second.refused == refused_count
    assert first.contacts_created + second.contacts_created == len(good)  # nobody waits behind them
    assert db.count("crm_attempts") == refused_count
    before = len(fake_hubspot.requests)
    assert _run(settings, db) == SyncCounts()  # refused versions wait for a change or their backoff
    assert len(fake_hubspot.requests) == before
    changed = refused[0]["conversation_id"]
    db.query(
        "UPDATE chat_history SET profile_name = 'Nuevo', profile_updated_at = now() "
        "WHERE conversation_id = %s",
        (changed,),
    )
    again = _run(settings, db)
    assert again.refused == 1 and len(fake_hubspot.requests) == before + 1  # only the changed one
    db.query("UPDATE crm_attempts SET retry_after = now() - interval '1 second'")
    backed_off = _run(settings, db)
    assert backed_off.refused == BATCH  # after the backoff: the oldest attempts first, one batch


def test_refused_handover_and_day_notes_back_off_instead_of_coming_first_every_pass(
    make_settings: Callable[..., Settings], db: Db, fake_hubspot: FakeHubSpot
) -> None:
    """Issue 23, finding 13: the same for hand-over and day notes."""
    settings = _hubspot_settings(make_settings, fake_hubspot)
    ana = db.add_advisor("Ana", ANA, phone="+573009990001")
    linked = db.add_customer(ana, "+573001000001", name="Camila Restrepo", labels=[])
    assert _run(settings, db).contacts_created == 1  # synced: notes may follow
    db.query(
        "INSERT INTO handovers (advisor_id, conversation_id, reason) VALUES (%s, %s, 'quiere negociar')",
        (ana, linked),
    )
    db.query(
        "INSERT INTO messages (advisor_id, conversation_id, direction, author, body, status)"
        " VALUES (%s, %s, 'inbound', 'customer', 'Hola', 'answered')",
        (ana, linked),
    )
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    fake_hubspot.failures = [400, 400]  # HubSpot refuses both notes
    refused = _run(settings, db, today=tomorrow)
    assert refused.refused == 2 and (refused.handover_notes, refused.day_notes) == (0, 0)
    before = len(fake_hubspot.requests)
    assert _run(settings, db, today=tomorrow) == SyncCounts()  # backing off: nothing asked
    assert len(fake_hubspot.requests) == before
    db.query("UPDATE handovers SET crm_retry_after = now() - interval '1 second'")
    db.query("UPDATE crm_sync SET notes_retry_after = now() - interval '1 second'")
    later = _run(settings, db, today=tomorrow)
    assert (later.handover_notes, later.day_notes, later.refused) == (1, 1, 0)
