"""Owns `advisor-bot customers erase`: forgetting one advisor's customer on their request."""

from __future__ import annotations

from advisors.numbers import InvalidNumberError, normalize_whatsapp_address
from bot.cli.console import fail, say
from bot.cli.lookup import advisor_named, connection
from bot.infra.database import resolve_database
from bot.infra.events import EventPublisher, erasure_event
from bot.infra.job_queue import open_job_queue
from bot.settings import Settings
from bot.twilio.media_hosting import delete_stored_media
from memory.records import conversations, erasure


async def erase(settings: Settings, advisor_ref: str, phone: str) -> int:
    """Delete everything about one customer of one advisor; say what went (no personal data kept)."""
    try:
        number = normalize_whatsapp_address(phone)
    except InvalidNumberError as error:
        return fail(f"{error}; give the customer's number with its country code, e.g. +573001112233")
    async with (
        open_job_queue(resolve_database(settings), settings) as queue,
        connection(settings) as conn,
    ):
        advisor = await advisor_named(conn, advisor_ref)
        if advisor is None:
            return 1
        async with conn.transaction():
            conversation = await conversations.find_conversation(
                conn=conn, advisor_id=advisor.id, phone=number
            )
            if conversation is None:
                return fail(f"{advisor.name} has no customer {number}; nothing was erased")
            done = await erasure.erase_customer(
                conn=conn,
                advisor_id=advisor.id,
                conversation_id=conversation.conversation_id,
                erased_by="cli",
            )
            assert done is not None
            await EventPublisher(settings, queue).publish(
                conn,
                "customer.erased",
                erasure_event(advisor.id, conversation.conversation_id, "cli", done.rows),
            )
    files = await delete_stored_media(settings, done.media_urls)
    rows = ", ".join(f"{table} {count}" for table, count in sorted(done.rows.items()))
    say(f"erased {number} for {advisor.name}: {rows}; {files} media files")
    return 0
