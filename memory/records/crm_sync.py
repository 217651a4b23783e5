"""Owns what the CRM sync still has to do: profiles changed since pushed, handovers and days not noted.

Progress is kept per conversation (`crm_sync`) and per handover (`handovers.crm_noted_at`), so a
sync that fails halfway is simply taken up again by the next run, and nothing is written twice.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from psycopg.types.json import Jsonb

from memory.records.models import Conn, Record


class ProfilePush(Record):
    """A conversation whose contact needs the profile's name and labels (or creating)."""

    conversation_id: UUID
    advisor_id: UUID
    phone_number: str
    name: str | None
    labels: list[str]
    hubspot_id: str | None
    changed_at: datetime


class HandoverNote(Record):
    """A handover not yet logged on the contact."""

    id: int
    conversation_id: UUID
    hubspot_id: str
    reason: str | None
    created_at: datetime


class DayNote(Record):
    """One day of a synced conversation not yet logged on the contact."""

    conversation_id: UUID
    advisor_id: UUID
    hubspot_id: str
    day: date


async def profiles_to_push(*, conn: Conn, create_contacts: bool, limit: int) -> list[ProfilePush]:
    """Conversations whose contact needs the profile pushed: changed since the last push.

    Those with a HubSpot reference, and, when contacts are created, those with a named profile.
    """
    cursor = await conn.execute(
        """
        SELECT c.conversation_id, c.advisor_id, c.phone_number, coalesce(p.name, c.profile_name) AS name,
               coalesce(p.labels, '[]'::jsonb) AS labels, c.crm_refs ->> 'hubspot' AS hubspot_id,
               coalesce(c.profile_updated_at, c.created_at) AS changed_at
          FROM chat_history c
          LEFT JOIN customer_profiles p ON p.conversation_id = c.conversation_id
          LEFT JOIN crm_sync s ON s.conversation_id = c.conversation_id
          LEFT JOIN crm_attempts a ON a.conversation_id = c.conversation_id
         WHERE (c.crm_refs ? 'hubspot' OR (%s AND coalesce(p.name, c.profile_name) IS NOT NULL))
           AND (s.conversation_id IS NULL OR s.hubspot_id IS DISTINCT FROM c.crm_refs ->> 'hubspot'
                OR s.synced_profile_at < coalesce(c.profile_updated_at, c.created_at))
           -- a refused version waits for a change of the profile, or for its backoff
           AND (a.conversation_id IS NULL OR a.retry_after <= now()
                OR a.refused_profile_at < coalesce(c.profile_updated_at, c.created_at))
         ORDER BY a.last_attempt_at NULLS FIRST, c.conversation_id
         LIMIT %s
        """,
        (create_contacts, limit),
    )
    return [ProfilePush.model_validate(row) for row in await cursor.fetchall()]


async def record_push(*, conn: Conn, push: ProfilePush, hubspot_id: str) -> None:
    """Remember what was pushed; a contact just created becomes the conversation's reference."""
    if push.hubspot_id != hubspot_id:
        await conn.execute(
            "UPDATE chat_history SET crm_refs = crm_refs || %s "
            "WHERE advisor_id = %s AND conversation_id = %s",
            (Jsonb({"hubspot": hubspot_id}), push.advisor_id, push.conversation_id),
        )
    await conn.execute(
        """
        INSERT INTO crm_sync (conversation_id, advisor_id, hubspot_id, synced_profile_at, noted_through)
        VALUES (%s, %s, %s, %s, current_date - 1)
        ON CONFLICT (conversation_id) DO UPDATE SET hubspot_id = excluded.hubspot_id,
            synced_profile_at = excluded.synced_profile_at, last_error = NULL, updated_at = now()
        """,
        (push.conversation_id, push.advisor_id, hubspot_id, push.changed_at),
    )
    await conn.execute("DELETE FROM crm_attempts WHERE conversation_id = %s", (push.conversation_id,))


# Backoff of a refused push or note: 10 minutes, doubling, at most a day.
_BACKOFF = "least(interval '1 day', interval '10 minutes' * power(2, least({n}, 10)))"


async def record_refusal(*, conn: Conn, push: ProfilePush, error: str) -> None:
    """Remember that HubSpot refused this version of the profile (whether or not synced before)."""
    await conn.execute(
        f"""
        INSERT INTO crm_attempts (conversation_id, advisor_id, refused_profile_at, last_error, retry_after)
        VALUES (%s, %s, %s, %s, now() + {_BACKOFF.format(n="0")})
        ON CONFLICT (conversation_id) DO UPDATE SET
            refused_profile_at = excluded.refused_profile_at, last_error = excluded.last_error,
            attempts = crm_attempts.attempts + 1, last_attempt_at = now(),
            retry_after = now() + {_BACKOFF.format(n="crm_attempts.attempts")}
        """,  # noqa: S608 - the backoff is ours
        (push.conversation_id, push.advisor_id, push.changed_at, error[:500]),
    )
    await record_error(conn=conn, conversation_id=push.conversation_id, error=error)


async def record_error(*, conn: Conn, conversation_id: UUID, error: str) -> None:
    """Keep why a conversation's contact could not be synced (shown to no customer)."""
    await conn.execute(
        "UPDATE crm_sync SET last_error = %s, updated_at = now() WHERE conversation_id = %s",
        (error[:500], conversation_id),
    )


async def handovers_to_note(*, conn: Conn, limit: int) -> list[HandoverNote]:
    """Handovers of synced conversations not yet logged as notes."""
    cursor = await conn.execute(
        "SELECT h.id, h.conversation_id, s.hubspot_id, h.reason, h.created_at FROM handovers h "
        "JOIN crm_sync s ON s.conversation_id = h.conversation_id "
        "WHERE h.crm_noted_at IS NULL AND (h.crm_retry_after IS NULL OR h.crm_retry_after <= now()) "
        "ORDER BY h.crm_retry_after NULLS FIRST, h.id LIMIT %s",
        (limit,),
    )
    return [HandoverNote.model_validate(row) for row in await cursor.fetchall()]


async def mark_handover_noted(*, conn: Conn, handover_id: int) -> None:
    """The handover is on the contact now."""
    await conn.execute("UPDATE handovers SET crm_noted_at = now() WHERE id = %s", (handover_id,))


async def handover_refused(*, conn: Conn, handover_id: int) -> None:
    """HubSpot refused this handover's note: try again after a backoff, after the others."""
    await conn.execute(
        f"UPDATE handovers SET crm_attempts = crm_attempts + 1, "  # noqa: S608 - the backoff is ours
        f"crm_retry_after = now() + {_BACKOFF.format(n='crm_attempts')} WHERE id = %s",
        (handover_id,),
    )


async def notes_refused(*, conn: Conn, conversation_id: UUID) -> None:
    """HubSpot refused a day note of this conversation: its days wait for a backoff."""
    await conn.execute(
        f"UPDATE crm_sync SET note_attempts = note_attempts + 1, "  # noqa: S608 - the backoff is ours
        f"notes_retry_after = now() + {_BACKOFF.format(n='note_attempts')} WHERE conversation_id = %s",
        (conversation_id,),
    )


async def days_to_note(*, conn: Conn, before: date, limit: int) -> list[DayNote]:
    """Days (UTC) before `before` with messages, after what each synced conversation has noted."""
    cursor = await conn.execute(
        """
        SELECT DISTINCT s.conversation_id, s.advisor_id, s.hubspot_id,
               (m.created_at AT TIME ZONE 'UTC')::date AS day
          FROM crm_sync s
          JOIN messages m ON m.advisor_id = s.advisor_id AND m.conversation_id = s.conversation_id
         WHERE m.created_at >= (coalesce(s.noted_through, current_date - 1) + 1) AT TIME ZONE 'UTC'
           AND m.created_at < %s::date AT TIME ZONE 'UTC'
           AND (s.notes_retry_after IS NULL OR s.notes_retry_after <= now())
         ORDER BY day, s.conversation_id
         LIMIT %s
        """,
        (before, limit),
    )
    return [DayNote.model_validate(row) for row in await cursor.fetchall()]


async def day_transcript(*, conn: Conn, note: DayNote) -> list[tuple[datetime, str, str]]:
    """That day's messages of the conversation: (when, author, text)."""
    cursor = await conn.execute(
        "SELECT created_at, author, coalesce(nullif(body, ''), transcript, '') AS text FROM messages "
        "WHERE advisor_id = %s AND conversation_id = %s "
        "AND (created_at AT TIME ZONE 'UTC')::date = %s ORDER BY id",
        (note.advisor_id, note.conversation_id, note.day),
    )
    return [(row["created_at"], row["author"], row["text"]) for row in await cursor.fetchall()]


async def mark_day_noted(*, conn: Conn, conversation_id: UUID, day: date) -> None:
    """That day (and every one before it) is on the contact now."""
    await conn.execute(
        "UPDATE crm_sync SET noted_through = greatest(coalesce(noted_through, %s), %s), updated_at = now(), "
        "note_attempts = 0, notes_retry_after = NULL WHERE conversation_id = %s",
        (day, day, conversation_id),
    )
