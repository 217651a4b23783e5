"""Owns "numbers only from what the business said": every figure in a reply must have a source.

A price, amount, percentage, date, time or phone number the model writes must appear in what
this turn could know: the knowledge passages it retrieved, the customer's profile, the
conversation, or the advisor's instructions. The business writes figures its own way and the
model another ("$1.200.000", "1,2 millones", "1200000", "1.2M"), so both sides are normalised
to the values they mean before they are compared. Counts below ten ("2 habitaciones", "paso 1")
are left alone: they are the conversation's, not the business's.
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal, InvalidOperation

SMALL = 10  # below this, a number is a count, not a figure
_MULTIPLIERS = {
    "mil": 1_000,
    "k": 1_000,
    "millon": 1_000_000,
    "millón": 1_000_000,
    "millones": 1_000_000,
    "m": 1_000_000,
    "mm": 1_000_000,
    "billon": 1_000_000_000_000,
    "billón": 1_000_000_000_000,
    "billones": 1_000_000_000_000,
}
_FIGURE = re.compile(
    r"(?<![\w.,])(\d+(?:[.,:/]\d+)*)(\s?%|\s*(?:millones|millón|millon|billones|billón|billon|mil|mm|k|m)\b)?",
    re.IGNORECASE,
)
# Digit groups separated by single spaces or dashes: how phone numbers are written.
_RUN = re.compile(r"\+?\d+(?:[ -]\d+)+")


def _digits(token: str) -> str:
    return re.sub(r"\D", "", token).lstrip("0") or "0"


def _phone_forms(run: str) -> set[str]:
    """A run of digit groups joined, with and without its first group (a country code, "+57")."""
    groups = re.findall(r"\d+", run)
    return {_digits("".join(groups)), _digits("".join(groups[1:]))} if len(groups) > 2 else {_digits(run)}


def _values(token: str, suffix: str) -> set[str]:
    """What one written figure may mean, as digit strings: "1,2 millones" → {"12", "1200000"}."""
    values = {_digits(token)}
    if ":" in token or "/" in token:  # a time or a date: its parts stand on their own too
        values |= {_digits(part) for part in re.split(r"[:/]", token)}
    word = suffix.strip().lower()
    if word in _MULTIPLIERS:
        for number in _readings(token):
            scaled = number * _MULTIPLIERS[word]
            if scaled == scaled.to_integral_value():
                values.add(str(int(scaled)))
    elif word == "%":
        values |= {str(n.normalize()) for n in _readings(token)}
    return values


def _readings(token: str) -> set[Decimal]:
    """The numbers a token may be: "1,2" is 1.2 (decimal comma) or 12; "1.200" is 1200 or 1.2."""
    readings = set()
    for decimal_mark in (",", "."):
        thousands = "." if decimal_mark == "," else ","
        text = token.replace(thousands, "").replace(decimal_mark, ".")
        if text.count(".") <= 1:
            try:
                readings.add(Decimal(text))
            except InvalidOperation:
                continue
    return readings


def _grounded_pieces(run: str, sources: set[str]) -> bool:
    """Whether every figure of a run stands in the sources on its own ("de 3 a 9" is not a phone)."""
    return all(
        _values(match.group(1), "") & sources or max(_readings(match.group(1)) or {Decimal(0)}) < SMALL
        for match in _FIGURE.finditer(run)
    )


def has_figures(reply: str) -> bool:
    """Whether a reply writes any figure at all; one that does not needs no sources to check."""
    return bool(_FIGURE.search(reply) or _RUN.search(reply))


def source_figures(texts: list[str]) -> set[str]:
    """Every value the sources give, in every normal form (and phone numbers joined)."""
    found: set[str] = set()
    for text in texts:
        found |= _figures_of(text)
    return found


@functools.lru_cache(maxsize=1024)
def _figures_of(text: str) -> frozenset[str]:
    """One source's values, cached: the rulebook, instructions and turns recur turn after turn."""
    found: set[str] = set()
    for match in _FIGURE.finditer(text):
        found |= _values(match.group(1), match.group(2) or "")
    for run in _RUN.finditer(text):
        found |= _phone_forms(run.group(0))
    return frozenset(found)


def ungrounded_figures(reply: str, sources: set[str]) -> list[str]:
    """The figures of `reply` (as written) that no source gives; empty when the reply is grounded."""
    missing = []
    runs = []  # phone-like runs of digit groups: judged whole, never piece by piece
    for run in _RUN.finditer(reply):
        runs.append(run.span())
        if not _phone_forms(run.group(0)) & sources and not _grounded_pieces(run.group(0), sources):
            missing.append(run.group(0))
    for match in _FIGURE.finditer(reply):
        token, suffix = match.group(1), match.group(2) or ""
        if any(start <= match.start() < end for start, end in runs):
            continue
        values = _values(token, suffix)
        if values & sources:
            continue
        biggest = max(_readings(token) or {Decimal(0)})
        if biggest < SMALL and "%" not in suffix and not suffix.strip():
            continue
        missing.append((token + suffix).strip())
    return list(dict.fromkeys(missing))
