"""Owns the SQL of conversations (`chat_history`): one row per advisor + customer and its flags.

Every function takes `advisor_id` and filters on it: one advisor's data is never reachable
through a query written for another's.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from memory.records.models import Conn, Conversation

_COLUMNS = Conversation.columns()


async def touch_conversation(
    *,
    conn: Conn,
    advisor_id: UUID,
    phone: str,
    audio_default: bool = False,
    voice_note: bool = False,
    profile_name: str | None = None,
) -> UUID:
    """Create the advisor + customer conversation, or mark it active; return its id.

    A new conversation starts with the advisor's default for voice replies; a voice note from
    the customer (when the advisor's settings make audio reciprocal) switches them on. The
    customer's WhatsApp profile name is kept as it last came.
    """
    cursor = await conn.execute(
        """
        INSERT INTO chat_history (advisor_id, phone_number, last_inbound_at, audio_available, profile_name)
        VALUES (%s, %s, now(), %s OR %s, %s)
        ON CONFLICT (advisor_id, phone_number)
        DO UPDATE SET updated_at = now(), last_inbound_at = now(),
            audio_available = chat_history.audio_available OR %s,
            profile_name = coalesce(excluded.profile_name, chat_history.profile_name)
        RETURNING conversation_id
        """,
        (advisor_id, phone, audio_default, voice_note, profile_name, voice_note),
    )
    row = await cursor.fetchone()
    assert row is not None
    return row["conversation_id"]  # type: ignore[no-any-return]


async def get_conversation(
    *, conn: Conn, advisor_id: UUID, conversation_id: UUID, for_update: bool = False
) -> Conversation | None:
    """Return one conversation of one advisor (locked for the transaction with `for_update`)."""
    lock = " FOR UPDATE" if for_update else ""
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM chat_history "  # noqa: S608
        f"WHERE advisor_id = %s AND conversation_id = %s{lock}",
        (advisor_id, conversation_id),
    )
    row = await cursor.fetchone()
    return Conversation.model_validate(row) if row else None


async def find_conversation(*, conn: Conn, advisor_id: UUID, phone: str) -> Conversation | None:
    """Return the conversation of one advisor with one customer phone."""
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM chat_history WHERE advisor_id = %s AND phone_number = %s",  # noqa: S608
        (advisor_id, phone),
    )
    row = await cursor.fetchone()
    return Conversation.model_validate(row) if row else None


def waiting_condition(alias: str = "") -> str:
    """SQL for `Conversation.waiting`: the AI is off and the customer wrote after the advisor did."""
    c = f"{alias}." if alias else ""
    return (
        f"(NOT {c}ai_attention AND NOT {c}opted_out AND ({c}last_advisor_message_at IS NULL "
        f"OR {c}last_inbound_at > {c}last_advisor_message_at))"
    )


async def waiting_conversations(*, conn: Conn, advisor_id: UUID, limit: int = 10) -> list[Conversation]:
    """Return the advisor's conversations waiting for them (`Conversation.waiting`), newest first."""
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM chat_history "  # noqa: S608
        f"WHERE advisor_id = %s AND {waiting_condition()} "
        "ORDER BY updated_at DESC LIMIT %s",
        (advisor_id, limit),
    )
    return [Conversation.model_validate(row) for row in await cursor.fetchall()]


async def count_waiting(*, conn: Conn, advisor_id: UUID | None) -> int:
    """How many conversations wait for the advisor (for every advisor when `advisor_id` is None)."""
    cursor = await conn.execute(
        f"SELECT count(*) AS n FROM chat_history WHERE (%s::uuid IS NULL OR advisor_id = %s) "  # noqa: S608
        f"AND {waiting_condition()}",
        (advisor_id, advisor_id),
    )
    row = await cursor.fetchone()
    return int(row["n"]) if row else 0


async def set_ai_attention(
    *,
    conn: Conn,
    advisor_id: UUID,
    phone: str,
    enabled: bool,
    changed_by: str,
    reason: str | None = None,
) -> bool:
    """Switch the AI on or off for one advisor + customer; return whether a row changed."""
    cursor = await conn.execute(
        "UPDATE chat_history SET ai_attention = %s, ai_attention_changed_at = now(), "
        "ai_attention_changed_by = %s, handover_reason = %s, updated_at = now() "
        "WHERE advisor_id = %s AND phone_number = %s",
        (enabled, changed_by, reason, advisor_id, phone),
    )
    return cursor.rowcount > 0


async def resume_ai_if_advisor_idle(
    *, conn: Conn, advisor_id: UUID, conversation_id: UUID, idle_minutes: int
) -> bool:
    """Hand the AI back if the advisor paused it by answering and then wrote nothing for a while.

    Only a pause the advisor caused ('advisor') is undone: a handover the AI asked for, or an
    explicit switch-off, stays until a human changes it.
    """
    cursor = await conn.execute(
        "UPDATE chat_history SET ai_attention = true, ai_attention_changed_at = now(), "
        "ai_attention_changed_by = 'auto_resume', handover_reason = NULL, updated_at = now() "
        "WHERE advisor_id = %s AND conversation_id = %s AND NOT ai_attention "
        "AND ai_attention_changed_by = 'advisor' "
        "AND last_advisor_message_at <= now() - make_interval(mins => %s)",
        (advisor_id, conversation_id, idle_minutes),
    )
    return cursor.rowcount > 0


async def set_audio_available(*, conn: Conn, advisor_id: UUID, phone: str, enabled: bool) -> bool:
    """Set whether one advisor's customer receives voice replies; return whether a row changed."""
    cursor = await conn.execute(
        "UPDATE chat_history SET audio_available = %s, updated_at = now() "
        "WHERE advisor_id = %s AND phone_number = %s",
        (enabled, advisor_id, phone),
    )
    return cursor.rowcount > 0


async def lock_conversation(*, conn: Conn, advisor_id: UUID, conversation_id: UUID) -> None:
    """Hold the conversation's row until the caller's transaction ends (the webhook waits on it)."""
    await conn.execute(
        "SELECT 1 FROM chat_history WHERE advisor_id = %s AND conversation_id = %s FOR UPDATE",
        (advisor_id, conversation_id),
    )


async def set_ai_mode(*, conn: Conn, advisor_id: UUID, conversation_id: UUID, mode: str | None) -> None:
    """Set the conversation's AI mode: auto, draft, or None to follow the advisor's setting."""
    await conn.execute(
        "UPDATE chat_history SET ai_mode = %s, updated_at = now() "
        "WHERE advisor_id = %s AND conversation_id = %s",
        (mode, advisor_id, conversation_id),
    )


async def set_opt_out(*, conn: Conn, advisor_id: UUID, conversation_id: UUID, opted_out: bool) -> None:
    """Record that the customer stopped (or resumed) receiving messages from this advisor."""
    await conn.execute(
        "UPDATE chat_history SET opted_out = %s, opted_out_at = CASE WHEN %s THEN now() END, "
        "updated_at = now() WHERE advisor_id = %s AND conversation_id = %s",
        (opted_out, opted_out, advisor_id, conversation_id),
    )


async def set_crm_refs(*, conn: Conn, advisor_id: UUID, conversation_id: UUID, refs: dict[str, str]) -> None:
    """Replace a conversation's external ids (system name → id in that system)."""
    await conn.execute(
        "UPDATE chat_history SET crm_refs = %s, updated_at = now() "
        "WHERE advisor_id = %s AND conversation_id = %s",
        (Jsonb(refs), advisor_id, conversation_id),
    )


async def record_handover(
    *,
    conn: Conn,
    advisor_id: UUID,
    conversation_id: UUID,
    reason: str,
    category: str | None = None,
    brief: dict[str, Any] | None = None,
    notice_id: int | None = None,
) -> None:
    """Keep a row per handover (its kind, brief and notice), so statistics can count them per day and kind."""
    await conn.execute(
        "INSERT INTO handovers (advisor_id, conversation_id, reason, category, brief, notice_id) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (
            advisor_id,
            conversation_id,
            reason,
            category,
            Jsonb(brief) if brief is not None else None,
            notice_id,
        ),
    )
