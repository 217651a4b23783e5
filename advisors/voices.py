"""Owns which voices the console offers for an advisor's voice notes.

OpenAI's text-to-speech voices (its documentation's list); an advisor's saved voice that is not
one of them (a local speech server's own) stays offered, so saving the form never changes it.
"""

from __future__ import annotations

SPEECH_VOICES = (
    "alloy",
    "ash",
    "ballad",
    "cedar",
    "coral",
    "echo",
    "fable",
    "marin",
    "nova",
    "onyx",
    "sage",
    "shimmer",
    "verse",
)


def voice_choices(saved: str | None) -> list[str]:
    """The voices to offer, the advisor's saved one included."""
    return [*SPEECH_VOICES, *([saved] if saved and saved not in SPEECH_VOICES else [])]
