"""Owns turning offered choices into the Twilio Content they are sent as, created once per shape."""

from __future__ import annotations

import logging

from advisors.models import Advisor
from bot.twilio.choices import Choices
from bot.worker.parts import WorkerParts
from memory.records.contents import known_content, remember_content

logger = logging.getLogger(__name__)


async def content_for(parts: WorkerParts, advisor: Advisor, choices: Choices) -> str:
    """The ContentSid of these choices: the one kept for their shape, or a new one created now.

    Raises:
        TransientSendError: Twilio could not create it now (the send is retried).
        PermanentSendError: Twilio refused it.
    """
    shape = choices.shape_hash()
    async with parts.pool.connection() as conn:
        known = await known_content(conn=conn, shape_hash=shape)
    if known is not None:
        return known
    created = await parts.sender.create_content(
        friendly_name=f"advisor_bot_{choices.kind}_{shape[:12]}",
        language=advisor.language(),
        types=choices.content_types(),
        variables={"1": choices.question},
    )
    async with parts.pool.connection() as conn:
        kept = await remember_content(conn=conn, shape_hash=shape, content_sid=created, kind=choices.kind)
    logger.info("choices content created", extra={"kind": choices.kind, "content_sid": kept})
    return kept
