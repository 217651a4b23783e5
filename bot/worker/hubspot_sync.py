"""Owns keeping HubSpot in step: contacts' name and labels from profiles, handovers and days as notes.

Off unless HUBSPOT_ACCESS_TOKEN is set. A periodic job (never the answering path) pushes what
changed since the last run through the official client (`hubspot-api-client`); HubSpot being
slow or down fails only that job, which the queue retries, and progress is kept per
conversation, so nothing is sent twice. A contact HubSpot refuses (deleted, invalid) is kept in
`crm_attempts` with its error: that version of the profile is tried again only once the profile
changes or after a backoff (10 minutes doubling to a day), and batches take the oldest attempts
first, so refusals never hold up the others. Refused notes back off the same way.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html import escape
from typing import Any

from psycopg_pool import AsyncConnectionPool

from bot.settings import Settings
from memory.records import crm_sync
from memory.records.crm_sync import DayNote, ProfilePush

logger = logging.getLogger(__name__)

BATCH = 200
NOTE_TO_CONTACT = 202  # HubSpot's association type: note → contact
_MAX_NOTE_CHARS = 20_000


class TransientCrmError(Exception):
    """HubSpot did not answer usefully now (429, 5xx, network): the job is retried later."""


@dataclass
class SyncCounts:
    """What one run did."""

    contacts_created: int = 0
    contacts_updated: int = 0
    handover_notes: int = 0
    day_notes: int = 0
    refused: int = 0
    details: list[str] = field(default_factory=list)


class HubSpotSync:
    """Pushes profile changes and notes to HubSpot, for every advisor's synced conversations."""

    def __init__(self, settings: Settings) -> None:
        from hubspot import HubSpot

        assert settings.hubspot_access_token is not None
        self._client = HubSpot(
            access_token=settings.hubspot_access_token.get_secret_value(), host=settings.hubspot_api_base_url
        )
        self._create = settings.hubspot_create_contacts
        self._labels_property = settings.hubspot_labels_property

    async def run(self, pool: AsyncConnectionPool[Any], *, today: date | None = None) -> SyncCounts:
        """One pass: profiles, then handovers, then the days before `today` (UTC)."""
        counts = SyncCounts()
        async with pool.connection() as conn:
            pushes = await crm_sync.profiles_to_push(conn=conn, create_contacts=self._create, limit=BATCH)
        for push in pushes:
            await self._push(pool, push, counts)
        async with pool.connection() as conn:
            handovers = await crm_sync.handovers_to_note(conn=conn, limit=BATCH)
        for handover in handovers:
            body = f"<p><b>Pasó al asesor</b> (WhatsApp): {escape(handover.reason or 'sin motivo')}</p>"
            if await self._note(
                pool, handover.conversation_id, handover.hubspot_id, body, handover.created_at
            ):
                async with pool.connection() as conn:
                    await crm_sync.mark_handover_noted(conn=conn, handover_id=handover.id)
                counts.handover_notes += 1
            else:
                async with pool.connection() as conn:
                    await crm_sync.handover_refused(conn=conn, handover_id=handover.id)
                counts.refused += 1
        async with pool.connection() as conn:
            days = await crm_sync.days_to_note(
                conn=conn, before=today or datetime.now(UTC).date(), limit=BATCH
            )
        refused_days: set[Any] = set()
        for day in days:
            if day.conversation_id in refused_days:
                continue  # its later days wait for the same backoff
            if await self._day_note(pool, day):
                counts.day_notes += 1
            else:
                refused_days.add(day.conversation_id)
                async with pool.connection() as conn:
                    await crm_sync.notes_refused(conn=conn, conversation_id=day.conversation_id)
                counts.refused += 1
        return counts

    async def _push(self, pool: AsyncConnectionPool[Any], push: ProfilePush, counts: SyncCounts) -> None:
        first, _, last = (push.name or "").strip().partition(" ")
        properties = {"phone": push.phone_number, self._labels_property: ";".join(push.labels)}
        if first:
            properties |= {"firstname": first, "lastname": last}
        try:
            if push.hubspot_id:
                await self._call(self._update_contact, push.hubspot_id, properties)
                hubspot_id = push.hubspot_id
                counts.contacts_updated += 1
            else:
                hubspot_id = await self._call(self._create_contact, properties)
                counts.contacts_created += 1
        except _RefusedError as refused:
            counts.refused += 1
            async with pool.connection() as conn, conn.transaction():
                await crm_sync.record_refusal(conn=conn, push=push, error=str(refused))
            logger.error(
                "HubSpot refused a contact",
                extra={"conversation": str(push.conversation_id), "error": str(refused)},
            )
            return
        async with pool.connection() as conn, conn.transaction():
            await crm_sync.record_push(conn=conn, push=push, hubspot_id=hubspot_id)

    async def _day_note(self, pool: AsyncConnectionPool[Any], day: DayNote) -> bool:
        async with pool.connection() as conn:
            lines = await crm_sync.day_transcript(conn=conn, note=day)
        rendered = "".join(
            f"<p>{when:%H:%M} <b>{escape(_WHO.get(author, author))}</b>: {escape(text)}</p>"
            for when, author, text in lines
        )[:_MAX_NOTE_CHARS]
        body = f"<p><b>Conversación de WhatsApp del {day.day:%Y-%m-%d}</b></p>{rendered}"
        noted_at = datetime(day.day.year, day.day.month, day.day.day, 23, 59, tzinfo=UTC)
        if not await self._note(pool, day.conversation_id, day.hubspot_id, body, noted_at):
            return False
        async with pool.connection() as conn:
            await crm_sync.mark_day_noted(conn=conn, conversation_id=day.conversation_id, day=day.day)
        return True

    async def _note(
        self, pool: AsyncConnectionPool[Any], conversation_id: Any, hubspot_id: str, body: str, when: datetime
    ) -> bool:
        try:
            await self._call(self._create_note, hubspot_id, body, when)
        except _RefusedError as refused:
            async with pool.connection() as conn:
                await crm_sync.record_error(conn=conn, conversation_id=conversation_id, error=str(refused))
            logger.error(
                "HubSpot refused a note", extra={"conversation": str(conversation_id), "error": str(refused)}
            )
            return False
        return True

    async def _call(self, function: Any, *args: Any) -> Any:
        """Run a blocking client call in a thread; sort HubSpot's errors into retry or refusal."""
        try:
            return await asyncio.to_thread(function, *args)
        except Exception as error:
            status = getattr(error, "status", None)
            if isinstance(status, int) and 400 <= status < 500 and status != 429:
                raise _RefusedError(f"HubSpot answered {status}") from error
            raise TransientCrmError(f"HubSpot unavailable: {status or type(error).__name__}") from error

    def _create_contact(self, properties: dict[str, str]) -> str:
        from hubspot.crm.contacts import SimplePublicObjectInputForCreate

        created = self._client.crm.contacts.basic_api.create(
            simple_public_object_input_for_create=SimplePublicObjectInputForCreate(properties=properties)
        )
        return str(created.id)

    def _update_contact(self, contact_id: str, properties: dict[str, str]) -> None:
        from hubspot.crm.contacts import SimplePublicObjectInput

        self._client.crm.contacts.basic_api.update(
            contact_id=contact_id, simple_public_object_input=SimplePublicObjectInput(properties=properties)
        )

    def _create_note(self, contact_id: str, body: str, when: datetime) -> None:
        from hubspot.crm.objects.notes import SimplePublicObjectInputForCreate

        association = {
            "to": {"id": contact_id},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_CONTACT}],
        }
        self._client.crm.objects.notes.basic_api.create(
            simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
                properties={"hs_note_body": body, "hs_timestamp": when.isoformat()},
                associations=[association],
            )
        )


class _RefusedError(Exception):
    """HubSpot refused this one request (4xx other than 429): retrying would not help."""


_WHO = {"customer": "Cliente", "ai": "Asistente", "advisor": "Asesor", "system": "Sistema"}
