"""Owns answering with voice: text to an OGG/Opus voice note WhatsApp plays, within its limits."""

from __future__ import annotations

import re

import openai

from bot.agent.model import audio_client
from bot.infra.usage import ModelUse, note_use
from bot.settings import Settings

VOICE_NOTE_MAX_BYTES = 512 * 1024  # above this WhatsApp shows an audio file, not a voice note
MAX_SPOKEN_CHARS = 1_200  # longer replies go as text: a minute-long monologue helps nobody
# Links, numbers and addresses are hard to copy from audio: such replies also go as text.
_NEEDS_TEXT = re.compile(
    r"https?://|www\.|\S+@\S+|\d{3,}|\b(calle|carrera|avenida|av\.|cra\.|cl\.|street|st\.)\b|#\s?\d",
    re.IGNORECASE,
)


class SynthesisError(Exception):
    """No usable voice note could be made; the text reply goes out instead."""


def is_ogg_opus(data: bytes) -> bool:
    """Whether `data` starts as an OGG stream carrying Opus (what WhatsApp plays as a voice note)."""
    return data[:4] == b"OggS" and b"OpusHead" in data[:128]


def needs_text_too(text: str) -> bool:
    """Whether a spoken reply should also be sent as text (links, numbers, addresses)."""
    return bool(_NEEDS_TEXT.search(text))


def speakable(text: str) -> bool:
    """Whether a reply is short enough to be a voice note at all."""
    return 0 < len(text.strip()) <= MAX_SPOKEN_CHARS


class Synthesizer:
    """Speaks text with OPENAI_TTS_MODEL at OPENAI_BASE_URL, as OGG/Opus."""

    def __init__(self, settings: Settings) -> None:
        self._model = settings.openai_tts_model
        self._voice = settings.openai_tts_voice
        self._client = audio_client(settings)

    async def speak(self, text: str, *, voice: str | None = None) -> bytes:
        """Return an OGG/Opus voice note of `text`.

        Raises:
            SynthesisError: the service failed, or its audio is not a small OGG/Opus file.
        """
        try:
            response = await self._client.audio.speech.create(
                model=self._model,
                voice=voice or self._voice,
                input=text,
                response_format="opus",
            )
        except openai.APIError as error:
            raise SynthesisError(f"speech synthesis failed: {type(error).__name__}") from error
        note_use(ModelUse("speech", self._model, characters=len(text)))  # billed as the call is made
        data = response.content
        if not is_ogg_opus(data):
            raise SynthesisError("speech synthesis did not return OGG/Opus")
        if len(data) > VOICE_NOTE_MAX_BYTES:
            raise SynthesisError(f"voice note of {len(data)} bytes exceeds {VOICE_NOTE_MAX_BYTES}")
        return data
