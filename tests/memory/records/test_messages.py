"""The message queries: dedupe, what is unanswered, what is owed a send, and statuses that only move on."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from memory.records import advisor_channel, conversations, messages
from memory.records.models import InboundMessage
from tests.conftest import Db
from tests.memory.records.conftest import answered_inbound

CUSTOMER = "+573001112233"
Conn = psycopg.AsyncConnection[Any]


def _inbound(sid: str, body: str = "Hola") -> InboundMessage:
    return InboundMessage(twilio_sid=sid, body=body, media=[], payload={"MessageSid": sid, "Body": body})


async def _conversation(conn: Conn, advisor: UUID) -> UUID:
    return await conversations.touch_conversation(conn=conn, advisor_id=advisor, phone=CUSTOMER)


async def test_a_message_sid_is_stored_once(conn: Conn, ana: UUID) -> None:
    conversation_id = await _conversation(conn, ana)
    first = await messages.insert_inbound(
        conn=conn, advisor_id=ana, conversation_id=conversation_id, message=_inbound("SM1")
    )
    again = await messages.insert_inbound(
        conn=conn, advisor_id=ana, conversation_id=conversation_id, message=_inbound("SM1", "otra vez")
    )
    assert isinstance(first, int) and again is None
    assert (
        await messages.latest_inbound_id(conn=conn, advisor_id=ana, conversation_id=conversation_id) == first
    )


async def test_unprocessed_messages_are_consumed_up_to_an_id(conn: Conn, ana: UUID, luis: UUID) -> None:
    conversation_id = await _conversation(conn, ana)
    ids = [
        await messages.insert_inbound(
            conn=conn, advisor_id=ana, conversation_id=conversation_id, message=_inbound(f"SM{n}", f"m{n}")
        )
        for n in range(3)
    ]
    pending = await messages.unprocessed_inbound(conn=conn, advisor_id=ana, conversation_id=conversation_id)
    assert [m.body for m in pending] == ["m0", "m1", "m2"] and pending[0].payload == {
        "MessageSid": "SM0",
        "Body": "m0",
    }
    assert (
        await messages.unprocessed_inbound(conn=conn, advisor_id=luis, conversation_id=conversation_id) == []
    )
    assert ids[1] is not None
    await messages.mark_processed(
        conn=conn, advisor_id=ana, conversation_id=conversation_id, up_to_id=ids[1], outcome="answered"
    )
    left = await messages.unprocessed_inbound(conn=conn, advisor_id=ana, conversation_id=conversation_id)
    assert [m.body for m in left] == ["m2"]


async def test_replies_are_recorded_voice_first_and_leave_pending_once_sent(conn: Conn, ana: UUID) -> None:
    conversation_id = await _conversation(conn, ana)
    reply_to = await messages.insert_inbound(
        conn=conn, advisor_id=ana, conversation_id=conversation_id, message=_inbound("SM1")
    )
    assert reply_to is not None
    ids = await messages.insert_pending_replies(
        conn=conn,
        advisor_id=ana,
        conversation_id=conversation_id,
        reply_to=reply_to,
        parts=["uno", "dos"],
        author="ai",
        voice_url="https://example.com/v.ogg",
    )
    pending = await messages.pending_outbound(conn=conn, advisor_id=ana, conversation_id=conversation_id)
    assert [m.id for m in pending] == ids
    assert [(m.part, m.body, m.payload) for m in pending] == [
        (0, "", {"media_url": "https://example.com/v.ogg"}),
        (1, "uno", None),
        (2, "dos", None),
    ]
    await messages.mark_sending(conn=conn, advisor_id=ana, message_id=ids[0])
    await messages.mark_outbound(
        conn=conn, advisor_id=ana, message_id=ids[1], status="queued", twilio_sid="SMout1"
    )
    still = await messages.pending_outbound(conn=conn, advisor_id=ana, conversation_id=conversation_id)
    assert [(m.id, m.status) for m in still] == [(ids[0], "sending"), (ids[2], "pending")]


async def test_delivery_status_moves_forward_only_and_only_for_the_sender(
    conn: Conn, db: Db, ana: UUID, luis: UUID
) -> None:
    conversation_id = await _conversation(conn, ana)
    _, reply = await answered_inbound(conn, ana, conversation_id)
    await messages.mark_outbound(
        conn=conn, advisor_id=ana, message_id=reply, status="queued", twilio_sid="SMx"
    )

    async def report(advisor: UUID, status: str, code: str | None = None) -> bool:
        return await messages.record_delivery_status(
            conn=conn, advisor_id=advisor, twilio_sid="SMx", status=status, error_code=code
        )

    assert not await report(luis, "read")  # another advisor's callback cannot touch it
    assert await report(ana, "read")
    assert not await report(ana, "sent")  # late, out of order
    assert db.query("SELECT status FROM messages WHERE id = %s", (reply,)) == [{"status": "read"}]


async def test_a_manual_reply_pauses_the_ai_and_is_found_after_an_id(conn: Conn, ana: UUID) -> None:
    conversation_id = await _conversation(conn, ana)
    message_id = await messages.insert_manual_reply(
        conn=conn,
        advisor_id=ana,
        conversation_id=conversation_id,
        body="Te llamo",
        payload=None,
        pause_ai=True,
    )
    paused = await conversations.get_conversation(conn=conn, advisor_id=ana, conversation_id=conversation_id)
    assert paused is not None and (paused.ai_attention, paused.ai_attention_changed_by) == (False, "advisor")
    assert paused.last_advisor_message_at is not None
    found = await messages.messages_after(
        conn=conn, advisor_id=ana, phone=CUSTOMER, after_id=message_id - 1, direction="outbound"
    )
    assert [(m.id, m.author, m.body) for m in found] == [(message_id, "advisor", "Te llamo")]


async def test_media_understanding_is_stored_on_the_message(conn: Conn, ana: UUID) -> None:
    conversation_id = await _conversation(conn, ana)
    message_id = await messages.insert_inbound(
        conn=conn, advisor_id=ana, conversation_id=conversation_id, message=_inbound("SM1", "")
    )
    assert message_id is not None
    await messages.record_media_understanding(
        conn=conn, advisor_id=ana, message_id=message_id, transcript=None, media_error="too_large: 20 MB"
    )
    [stored] = await messages.unprocessed_inbound(conn=conn, advisor_id=ana, conversation_id=conversation_id)
    assert (stored.transcript, stored.media_error, stored.media) == (None, "too_large: 20 MB", [])


async def test_commands_are_answered_once_and_notices_keep_their_fate(
    conn: Conn, ana: UUID, luis: UUID
) -> None:
    command_id = await advisor_channel.record_advisor_command(
        conn=conn, advisor_id=ana, twilio_sid="SMc", body="#lista"
    )
    assert command_id is not None
    assert (
        await advisor_channel.record_advisor_command(
            conn=conn, advisor_id=ana, twilio_sid="SMc", body="#lista"
        )
        is None
    )
    await advisor_channel.finish_advisor_command(
        conn=conn, advisor_id=ana, command_id=command_id, reply="Nadie"
    )
    assert await advisor_channel.command_reply(conn=conn, advisor_id=ana, twilio_sid="SMc") == "Nadie"
    assert await advisor_channel.command_reply(conn=conn, advisor_id=luis, twilio_sid="SMc") is None
    notice_id = await advisor_channel.insert_advisor_notice(conn=conn, advisor_id=ana, body="🔔")
    assert await advisor_channel.get_advisor_notice(conn=conn, advisor_id=luis, notice_id=notice_id) is None
    await advisor_channel.mark_advisor_notice(
        conn=conn, advisor_id=ana, notice_id=notice_id, status="failed", error_code="63016", error_message="x"
    )
    notice = await advisor_channel.get_advisor_notice(conn=conn, advisor_id=ana, notice_id=notice_id)
    assert notice is not None and notice["status"] == "failed"
