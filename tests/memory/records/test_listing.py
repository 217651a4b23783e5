"""The API's read queries: pages that never repeat, scoping by advisor, CRM look-ups, statistics."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from memory.records import conversations, listing, messages, stats
from memory.records.models import InboundMessage
from tests.conftest import Db
from tests.memory.records.conftest import answered_inbound

Conn = psycopg.AsyncConnection[Any]


async def _customers(conn: Conn, advisor: UUID, count: int, *, start: int = 0) -> list[UUID]:
    return [
        await conversations.touch_conversation(conn=conn, advisor_id=advisor, phone=f"+5730011100{n:02d}")
        for n in range(start, start + count)
    ]


async def test_pages_follow_creation_order_and_never_repeat(conn: Conn, ana: UUID, luis: UUID) -> None:
    created = await _customers(conn, ana, 5)
    await _customers(conn, luis, 2)
    seen: list[UUID] = []
    cursor = None
    while True:
        page, cursor = await listing.list_conversations(conn=conn, advisor_id=ana, after=cursor, limit=2)
        seen += [c.conversation_id for c in page]
        if len(seen) == 2:
            await _customers(conn, ana, 1, start=50)  # arrives while paging: shows up at the end
        if cursor is None:
            break
    assert seen[:5] == created and len(seen) == len(set(seen)) == 6
    everyone, _ = await listing.list_conversations(conn=conn, advisor_id=None, limit=50)
    assert len(everyone) == 8


async def test_filters_narrow_the_list(conn: Conn, ana: UUID) -> None:
    await _customers(conn, ana, 3)
    await conversations.set_ai_attention(
        conn=conn, advisor_id=ana, phone="+573001110001", enabled=False, changed_by="advisor"
    )
    off, _ = await listing.list_conversations(conn=conn, advisor_id=ana, ai_attention=False)
    assert [c.phone_number for c in off] == ["+573001110001"]
    future = datetime.now(UTC) + timedelta(minutes=5)
    assert (await listing.list_conversations(conn=conn, advisor_id=ana, updated_since=future))[0] == []


@pytest.mark.parametrize(
    "cursor",
    ["%%%", base64.urlsafe_b64encode(b"[1,2]").decode(), base64.urlsafe_b64encode(b'{"id":"x"}').decode()],
)
async def test_a_cursor_this_server_did_not_issue_is_refused(conn: Conn, ana: UUID, cursor: str) -> None:
    with pytest.raises(listing.BadCursorError):
        await listing.list_conversations(conn=conn, advisor_id=ana, after=cursor)
    with pytest.raises(listing.BadCursorError):
        await listing.list_messages(conn=conn, advisor_id=ana, conversation_id=ana, after=cursor, limit=5)


async def test_an_advisor_sees_only_their_own_conversation(conn: Conn, ana: UUID, luis: UUID) -> None:
    [mine] = await _customers(conn, ana, 1)
    assert await listing.find_visible_conversation(conn=conn, advisor_id=luis, conversation_id=mine) is None
    assert (
        await listing.find_visible_conversation(conn=conn, advisor_id=ana, conversation_id=mine) is not None
    )
    assert (
        await listing.find_visible_conversation(conn=conn, advisor_id=None, conversation_id=mine) is not None
    )


async def test_message_pages_hide_twilios_raw_form(conn: Conn, ana: UUID) -> None:
    [conversation_id] = await _customers(conn, ana, 1)
    for n in range(3):
        await messages.insert_inbound(
            conn=conn,
            advisor_id=ana,
            conversation_id=conversation_id,
            message=InboundMessage(twilio_sid=f"SM{n}", body=f"m{n}", media=[], payload={"Body": f"m{n}"}),
        )
    first, cursor = await listing.list_messages(
        conn=conn, advisor_id=ana, conversation_id=conversation_id, after=None, limit=2
    )
    rest, end = await listing.list_messages(
        conn=conn, advisor_id=ana, conversation_id=conversation_id, after=cursor, limit=2
    )
    assert [m.body for m in first + rest] == ["m0", "m1", "m2"] and end is None
    assert first[0].payload is None and "payload" not in first[0].model_dump()


async def test_crm_look_up_is_scoped_to_the_advisor(conn: Conn, ana: UUID, luis: UUID) -> None:
    for advisor in (ana, luis):
        [conversation_id] = await _customers(conn, advisor, 1)
        await conversations.set_crm_refs(
            conn=conn, advisor_id=advisor, conversation_id=conversation_id, refs={"hubspot": "77"}
        )
    assert (
        len(await listing.find_by_crm_ref(conn=conn, advisor_id=None, system="hubspot", external_id="77"))
        == 2
    )
    [only] = await listing.find_by_crm_ref(conn=conn, advisor_id=luis, system="hubspot", external_id="77")
    assert only.advisor_id == luis
    assert await listing.find_by_crm_ref(conn=conn, advisor_id=ana, system="hubspot", external_id="78") == []


async def test_stats_count_a_day_and_its_first_response(conn: Conn, db: Db, ana: UUID, luis: UUID) -> None:
    [conversation_id] = await _customers(conn, ana, 1)
    inbound, reply = await answered_inbound(conn, ana, conversation_id)
    await messages.mark_outbound(conn=conn, advisor_id=ana, message_id=reply, status="sent", twilio_sid="SMo")
    db.query("UPDATE messages SET created_at = now() - interval '30 seconds' WHERE id = %s", (inbound,))
    await conversations.record_handover(
        conn=conn, advisor_id=ana, conversation_id=conversation_id, reason="r"
    )
    today = datetime.now(UTC).date()
    [day] = await stats.advisor_stats(conn=conn, advisor_id=ana, since=today, until=today)
    assert (
        day["conversations"],
        day["inbound"],
        day["ai_replies"],
        day["human_replies"],
        day["handovers"],
    ) == (
        1,
        1,
        1,
        0,
        1,
    )
    assert 29 <= day["median_first_response_seconds"] <= 31
    [empty] = await stats.advisor_stats(conn=conn, advisor_id=luis, since=today, until=today)
    assert (empty["inbound"], empty["median_first_response_seconds"]) == (0, None)
