"""Owns speech to text: a customer's voice note, transcribed through the OpenAI audio API."""

from __future__ import annotations

import openai

from bot.agent.model import audio_client
from bot.infra.usage import ModelUse, note_use
from bot.settings import Settings
from bot.twilio.media_fetch import Media, MediaError

_EXTENSIONS = {
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/amr": "amr",
    "audio/wav": "wav",
    "audio/webm": "webm",
    "audio/aac": "aac",
}


class Transcriber:
    """Transcribes audio with OPENAI_TRANSCRIBE_MODEL at OPENAI_BASE_URL (local servers work too)."""

    def __init__(self, settings: Settings) -> None:
        self._model = settings.openai_transcribe_model
        self._client = audio_client(settings)

    async def transcribe(self, media: Media) -> str:
        """Return the text of an audio file.

        Raises:
            MediaError: the service failed or returned nothing usable.
        """
        extension = _EXTENSIONS.get(media.content_type, "ogg")
        try:
            result = await self._client.audio.transcriptions.create(
                model=self._model,
                file=(f"voice-note.{extension}", media.data, media.content_type or "audio/ogg"),
            )
        except openai.APIError as error:
            raise MediaError(
                f"transcription failed: {type(error).__name__}", reason="transcription_failed"
            ) from error
        note_use(ModelUse("transcription", self._model, audio_seconds=audio_seconds(result, len(media.data))))
        text = (result.text or "").strip()
        if not text:
            raise MediaError("the transcription is empty", reason="transcription_failed")
        return text


VOICE_NOTE_BYTES_PER_SECOND = 2_000  # WhatsApp voice notes: Opus at about 16 kbit/s


def audio_seconds(result: object, size: int) -> float:
    """How long the transcribed audio was: what the API says (`usage.seconds`), else from its size.

    Transcription is billed by the minute; servers that do not say are estimated from the bytes
    of a WhatsApp voice note (Opus at about 16 kbit/s).
    """
    usage = getattr(result, "usage", None)
    seconds = getattr(usage, "seconds", None) if usage is not None else None
    if isinstance(usage, dict):
        seconds = usage.get("seconds")
    return float(seconds) if isinstance(seconds, int | float) else size / VOICE_NOTE_BYTES_PER_SECOND
