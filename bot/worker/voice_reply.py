"""Owns turning an AI reply into a voice note Twilio can fetch, for customers who get voice replies."""

from __future__ import annotations

import logging
import time

from advisors.models import Advisor
from bot.agent.speech import SynthesisError, speakable
from bot.twilio.media_hosting import MediaStoreError
from bot.worker.parts import WorkerParts, log_facts
from memory.records import conversations
from memory.records.models import Conversation

logger = logging.getLogger(__name__)


async def voice_reply(
    parts: WorkerParts, advisor: Advisor, conversation: Conversation, text: str
) -> str | None:
    """Speak the reply and publish it for Twilio; return its URL, or None to send text only.

    Any failure leaves the text reply to go out alone: a voice note is never worth a lost answer.
    """
    if parts.synthesizer is None or parts.media_store is None or not speakable(text):
        return None
    async with parts.pool.connection() as conn:
        # The agent's own tool may have just changed the preference during this run.
        current = await conversations.get_conversation(
            conn=conn, advisor_id=advisor.id, conversation_id=conversation.conversation_id
        )
    if current is None or not current.audio_available:
        return None
    started = time.perf_counter()
    try:
        audio = await parts.synthesizer.speak(text, voice=advisor.settings.tts_voice)
        url = await parts.media_store.publish(audio, content_type="audio/ogg", suffix="ogg")
    except (SynthesisError, MediaStoreError) as error:
        logger.warning(
            "voice reply failed; sending text",
            extra={**log_facts(advisor, conversation), "error": str(error)[:200]},
        )
        return None
    logger.info(
        "voice reply ready",
        extra={
            **log_facts(advisor, conversation),
            "bytes": len(audio),
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
    return url
