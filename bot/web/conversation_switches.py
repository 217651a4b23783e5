"""Owns switching a conversation's AI and voice replies from the web (API and console alike).

A switch of the AI is also an `ai_attention.changed` event for the business's receivers, in the
same transaction; both front doors go through here so neither can forget it.
"""

from __future__ import annotations

from bot.infra.events import EventPublisher, attention_event
from memory.records import conversations
from memory.records.models import Conn, Conversation


async def switch_ai(
    *, conn: Conn, events: EventPublisher, conversation: Conversation, enabled: bool, changed_by: str
) -> None:
    """Turn the AI on or off for one conversation (inside the caller's transaction)."""
    if enabled == conversation.ai_attention:
        return
    await conversations.set_ai_attention(
        conn=conn,
        advisor_id=conversation.advisor_id,
        phone=conversation.phone_number,
        enabled=enabled,
        changed_by=changed_by,
    )
    await events.publish(conn, "ai_attention.changed", attention_event(conversation, enabled, changed_by))


async def switch_audio(*, conn: Conn, conversation: Conversation, enabled: bool) -> None:
    """Send this customer voice replies, or text only."""
    await conversations.set_audio_available(
        conn=conn, advisor_id=conversation.advisor_id, phone=conversation.phone_number, enabled=enabled
    )
