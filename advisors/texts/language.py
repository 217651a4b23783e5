"""Owns which languages the fixed texts exist in, and guessing a customer's from what they write."""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["es", "en"]
LANGUAGES: tuple[Language, ...] = ("es", "en")
DEFAULT_LANGUAGE: Language = "es"  # the advisors are Colombian

_WORD = re.compile(r"[a-záéíóúüñ']+")
_SPANISH = frozenset(
    "hola buenas buenos dias tardes noches gracias quiero quisiera necesito precio cuanto cuánto cuesta "
    "el la los las de del que qué por para con una un es esta está estoy tiene tienen hay sí si pero "
    "como cómo donde dónde cuando cuándo me mi yo usted apartamento casa favor".split()
)
_ENGLISH = frozenset(
    "hello hi hey thanks thank you want would like need price how much cost the is are this that "
    "what where when do does have has there yes but with for of my i me can could please apartment "
    "house".split()
)


def language_code(value: str | None) -> Language:
    """A setting such as "es", "en-US" or "English" as one of ours; Spanish when not ours."""
    code = (value or "").strip().lower()[:2]
    return "en" if code == "en" else DEFAULT_LANGUAGE


def guess_language(text: str) -> Language | None:
    """Spanish or English by the common words and marks of `text`; None when it says neither.

    Enough to pick which fixed text a customer gets (the model itself answers in whatever
    language the customer writes); a library of language models would be far more than that.
    """
    lowered = text.lower()
    words = _WORD.findall(lowered)
    spanish = sum(word in _SPANISH for word in words) + 2 * sum(mark in lowered for mark in "¿¡ñ")
    english = sum(word in _ENGLISH for word in words)
    if spanish == english:
        return None
    return "es" if spanish > english else "en"
