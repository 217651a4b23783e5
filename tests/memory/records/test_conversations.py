"""The conversation queries, each scoped to one advisor."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from memory.records import conversations
from tests.conftest import Db

CUSTOMER = "+573001112233"
Conn = psycopg.AsyncConnection[Any]


async def test_touch_creates_once_and_the_same_customer_has_one_conversation_per_advisor(
    conn: Conn, ana: UUID, luis: UUID
) -> None:
    first = await conversations.touch_conversation(conn=conn, advisor_id=ana, phone=CUSTOMER)
    again = await conversations.touch_conversation(conn=conn, advisor_id=ana, phone=CUSTOMER)
    other = await conversations.touch_conversation(conn=conn, advisor_id=luis, phone=CUSTOMER)
    assert first == again and other != first
    found = await conversations.find_conversation(conn=conn, advisor_id=ana, phone=CUSTOMER)
    assert found is not None and found.conversation_id == first and found.last_inbound_at is not None
    assert await conversations.get_conversation(conn=conn, advisor_id=luis, conversation_id=first) is None


async def test_voice_replies_start_from_the_default_and_a_voice_note_switches_them_on(
    conn: Conn, ana: UUID, luis: UUID
) -> None:
    await conversations.touch_conversation(conn=conn, advisor_id=ana, phone=CUSTOMER, audio_default=True)
    await conversations.touch_conversation(conn=conn, advisor_id=luis, phone=CUSTOMER)
    await conversations.touch_conversation(conn=conn, advisor_id=luis, phone=CUSTOMER, voice_note=False)
    assert (await conversations.find_conversation(conn=conn, advisor_id=ana, phone=CUSTOMER)).audio_available  # type: ignore[union-attr]
    luis_conversation = await conversations.find_conversation(conn=conn, advisor_id=luis, phone=CUSTOMER)
    assert luis_conversation is not None and not luis_conversation.audio_available
    await conversations.touch_conversation(conn=conn, advisor_id=luis, phone=CUSTOMER, voice_note=True)
    assert (await conversations.find_conversation(conn=conn, advisor_id=luis, phone=CUSTOMER)).audio_available  # type: ignore[union-attr]


async def test_flags_change_for_one_advisor_only(conn: Conn, ana: UUID, luis: UUID) -> None:
    for advisor in (ana, luis):
        await conversations.touch_conversation(conn=conn, advisor_id=advisor, phone=CUSTOMER)
    changed = await conversations.set_ai_attention(
        conn=conn, advisor_id=ana, phone=CUSTOMER, enabled=False, changed_by="ai", reason="pide precio"
    )
    assert changed
    assert await conversations.set_audio_available(conn=conn, advisor_id=ana, phone=CUSTOMER, enabled=True)
    assert not await conversations.set_ai_attention(
        conn=conn, advisor_id=ana, phone="+573009999999", enabled=False, changed_by="ai"
    )
    mine = await conversations.find_conversation(conn=conn, advisor_id=ana, phone=CUSTOMER)
    theirs = await conversations.find_conversation(conn=conn, advisor_id=luis, phone=CUSTOMER)
    assert mine is not None and theirs is not None
    assert (mine.ai_attention, mine.audio_available, mine.handover_reason) == (False, True, "pide precio")
    assert (theirs.ai_attention, theirs.audio_available, theirs.handover_reason) == (True, False, None)


async def test_waiting_lists_ai_off_newest_first_and_never_opted_out(
    conn: Conn, ana: UUID, luis: UUID
) -> None:
    phones = ["+573001110001", "+573001110002", "+573001110003"]
    for phone in phones:
        conversation_id = await conversations.touch_conversation(conn=conn, advisor_id=ana, phone=phone)
        await conversations.set_ai_attention(
            conn=conn, advisor_id=ana, phone=phone, enabled=False, changed_by="advisor"
        )
    await conversations.set_opt_out(
        conn=conn, advisor_id=ana, conversation_id=conversation_id, opted_out=True
    )
    await conversations.touch_conversation(conn=conn, advisor_id=luis, phone="+573001110009")
    await conversations.set_ai_attention(
        conn=conn, advisor_id=luis, phone="+573001110009", enabled=False, changed_by="advisor"
    )
    waiting = await conversations.waiting_conversations(conn=conn, advisor_id=ana)
    assert [c.phone_number for c in waiting] == ["+573001110002", "+573001110001"]


async def test_the_ai_is_handed_back_only_after_the_advisors_own_pause_went_quiet(
    conn: Conn, db: Db, ana: UUID
) -> None:
    conversation_id = await conversations.touch_conversation(conn=conn, advisor_id=ana, phone=CUSTOMER)
    await conversations.set_ai_attention(
        conn=conn, advisor_id=ana, phone=CUSTOMER, enabled=False, changed_by="ai"
    )
    db.query("UPDATE chat_history SET last_advisor_message_at = now() - interval '2 hours'")
    resume = {"conn": conn, "advisor_id": ana, "conversation_id": conversation_id, "idle_minutes": 30}
    assert not await conversations.resume_ai_if_advisor_idle(**resume)  # the AI's own handover stays
    await conversations.set_ai_attention(
        conn=conn, advisor_id=ana, phone=CUSTOMER, enabled=False, changed_by="advisor"
    )
    db.query("UPDATE chat_history SET last_advisor_message_at = now() - interval '10 minutes'")
    assert not await conversations.resume_ai_if_advisor_idle(**resume)  # not quiet long enough
    db.query("UPDATE chat_history SET last_advisor_message_at = now() - interval '31 minutes'")
    assert await conversations.resume_ai_if_advisor_idle(**resume)
    resumed = await conversations.get_conversation(conn=conn, advisor_id=ana, conversation_id=conversation_id)
    assert resumed is not None and (resumed.ai_attention, resumed.ai_attention_changed_by) == (
        True,
        "auto_resume",
    )


async def test_opt_out_crm_refs_and_handovers_are_recorded(conn: Conn, db: Db, ana: UUID) -> None:
    conversation_id = await conversations.touch_conversation(conn=conn, advisor_id=ana, phone=CUSTOMER)
    await conversations.set_opt_out(
        conn=conn, advisor_id=ana, conversation_id=conversation_id, opted_out=True
    )
    await conversations.set_crm_refs(
        conn=conn, advisor_id=ana, conversation_id=conversation_id, refs={"hubspot": "1234"}
    )
    await conversations.record_handover(
        conn=conn, advisor_id=ana, conversation_id=conversation_id, reason="r"
    )
    stored = await conversations.get_conversation(conn=conn, advisor_id=ana, conversation_id=conversation_id)
    assert stored is not None
    assert stored.opted_out and stored.opted_out_at is not None and stored.crm_refs == {"hubspot": "1234"}
    assert not stored.window_open or stored.session_window_open()
    await conversations.set_opt_out(
        conn=conn, advisor_id=ana, conversation_id=conversation_id, opted_out=False
    )
    back = await conversations.get_conversation(conn=conn, advisor_id=ana, conversation_id=conversation_id)
    assert back is not None and (back.opted_out, back.opted_out_at) == (False, None)
    assert db.query("SELECT reason FROM handovers") == [{"reason": "r"}]
