"""Owns understanding a customer's media before the agent reads it: voice notes and pictures."""

from __future__ import annotations

import base64
import logging
import time

from advisors.models import Advisor
from bot.twilio.inbound import is_audio, is_image, model_image_type
from bot.twilio.media_fetch import MediaError, fetch_media
from bot.worker.parts import WorkerParts
from memory.records import messages as message_records
from memory.records.models import Message

logger = logging.getLogger(__name__)


async def understand_media(parts: WorkerParts, advisor: Advisor, inbound: list[Message]) -> list[Message]:
    """Transcribe voice notes not yet understood; a failure is recorded, never fatal."""
    if parts.transcriber is None:
        return inbound
    understood = []
    for message in inbound:
        audio = next((item for item in message.media if is_audio(item)), None)
        if audio is None or message.transcript or message.media_error:
            understood.append(message)
            continue
        transcript, failure = None, None
        started = time.perf_counter()
        try:
            media = await fetch_media(str(audio.get("url")), settings=parts.settings)
            transcript = await parts.transcriber.transcribe(media)
        except MediaError as error:
            failure = f"{error.reason}: {error}"[:500]
            logger.warning(
                "voice note not understood", extra={"advisor": str(advisor.id), "reason": error.reason}
            )
        except Exception as error:  # noqa: BLE001 - any failure is recorded and told, never fatal
            failure = f"unexpected: {type(error).__name__}: {error}"[:500]
            logger.exception("voice note not understood", extra={"advisor": str(advisor.id)})
        async with parts.pool.connection() as conn:
            await message_records.record_media_understanding(
                conn=conn,
                advisor_id=advisor.id,
                message_id=message.id,
                transcript=transcript,
                media_error=failure,
            )
        logger.info(
            "voice note processed",
            extra={
                "advisor": str(advisor.id),
                "ok": failure is None,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        understood.append(message.model_copy(update={"transcript": transcript, "media_error": failure}))
    return understood


async def images_for_model(
    parts: WorkerParts, advisor: Advisor, inbound: list[Message]
) -> dict[int, list[str]]:
    """Download the customer's pictures as data URLs, when the model accepts image input."""
    settings = parts.settings
    if not settings.image_input_enabled():
        return {}
    found: dict[int, list[str]] = {}
    for message in inbound:
        for item in message.media:
            if not is_image(item) or model_image_type(item.get("content_type")) is None:
                continue  # not a picture, or one the model cannot read: the agent is told of it
            try:
                media = await fetch_media(str(item.get("url")), settings=settings)
            except Exception as error:  # noqa: BLE001 - any failure is recorded and told, never fatal
                reason = error.reason if isinstance(error, MediaError) else "unexpected"
                detail = str(error) if isinstance(error, MediaError) else f"{type(error).__name__}: {error}"
                logger.warning(
                    "image not fetched; the agent is told one arrived",
                    extra={"advisor": str(advisor.id), "reason": reason},
                )
                if not message.media_error:
                    async with parts.pool.connection() as conn:
                        await message_records.record_media_understanding(
                            conn=conn,
                            advisor_id=advisor.id,
                            message_id=message.id,
                            transcript=message.transcript,
                            media_error=f"{reason}: {detail}"[:500],
                        )
                continue
            if len(media.data) > settings.max_image_bytes:
                continue
            if media.content_type and model_image_type(media.content_type) is None:
                continue  # announced as a picture, served as something the model cannot read
            content_type = model_image_type(media.content_type) or model_image_type(item.get("content_type"))
            encoded = base64.b64encode(media.data).decode()
            found.setdefault(message.id, []).append(f"data:{content_type};base64,{encoded}")
    return found
