"""Owns the deterministic checks of an evaluation: each a name, a verdict and the reason.

They read only what a customer and the business would see: the WhatsApp messages the server
sent for a turn, whether the conversation was handed to the advisor, the tool calls the agent
made, and the scenario itself (what the business wrote, what the customer said). The names are
the report's and docs/evaluation.md's.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from advisors.texts import guess_language
from bot.evals.scenarios import Expect, Scenario

# Prices, amounts, dates, times and phone numbers: runs of digits with their separators.
_NUMBER = re.compile(r"\d[\d.,:/ ]*\d|\d")
SMALL_NUMBER = 10  # counts ("2 habitaciones", "1 o 2") need no source


@dataclass(frozen=True)
class Verdict:
    """One check's outcome."""

    name: str
    passed: bool
    reason: str = ""


@dataclass
class TurnOutcome:
    """What happened after one customer message."""

    said: str
    replies: list[str]
    handed_over: bool
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    handover_categories: list[str] = field(default_factory=list)
    summary: str = ""  # the AI memory's running summary after this turn
    held_back: list[str] = field(default_factory=list)  # figures the server's check kept from the customer


def fold(text: str) -> str:
    """Lower case without accents: customers and models spell "habitación" both ways."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def numbers_in(text: str) -> set[str]:
    """The digit strings of every number in `text` ("$250.000.000" → "250000000")."""
    found = set()
    for match in _NUMBER.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if digits:
            found.add(digits.lstrip("0") or "0")
    return found


def sources_of(scenario: Scenario) -> set[str]:
    """Every number the business gave: knowledge, instructions, working hours, the profile.

    The customer's own words are the other source; the runner adds them turn by turn.
    """
    texts = [document.text for document in scenario.advisor.knowledge]
    texts += [scenario.advisor.instructions or "", str(scenario.advisor.working_hours or "")]
    if scenario.profile is not None:
        texts += [
            scenario.profile.name or "",
            scenario.profile.notes or "",
            " ".join(scenario.profile.labels),
        ]
    found: set[str] = set()
    for text in texts:
        found |= numbers_in(text)
    return found


def check(
    expect: Expect, outcomes: list[TurnOutcome], sources: set[str], *, goal_met: bool | None = None
) -> list[Verdict]:
    """The verdicts of every check `expect` asks for, over these turns' outcomes.

    `goal_met` is a simulated customer's word on whether it got what it came for.
    """
    replies = [reply for outcome in outcomes for reply in outcome.replies]
    text = "\n".join(replies)
    folded = fold(text)
    verdicts: list[Verdict] = []

    def add(name: str, passed: bool, reason: str) -> None:
        verdicts.append(Verdict(name, passed, "" if passed else reason))

    for wanted in expect.reply_contains:
        add("reply_contains", fold(wanted) in folded, f"the reply does not say {wanted!r}")
    if expect.reply_contains_any:
        add(
            "reply_contains_any",
            any(fold(wanted) in folded for wanted in expect.reply_contains_any),
            f"the reply says none of {expect.reply_contains_any!r}",
        )
    for unwanted in expect.reply_not_contains:
        add("reply_not_contains", fold(unwanted) not in folded, f"the reply says {unwanted!r}")
    if expect.reply_matches is not None:
        pattern = re.compile(expect.reply_matches, re.IGNORECASE)
        add("reply_matches", bool(pattern.search(text)), f"the reply does not match {expect.reply_matches!r}")
    if expect.no_reply is not None:
        add(
            "no_reply",
            (not replies) == expect.no_reply,
            "a reply was sent" if expect.no_reply else "no reply",
        )
    if expect.max_messages is not None:
        most = max((len(outcome.replies) for outcome in outcomes), default=0)
        add("max_messages", most <= expect.max_messages, f"{most} WhatsApp messages in one turn")
    if expect.handed_over is not None:
        handed = any(outcome.handed_over for outcome in outcomes)
        add(
            "handed_over",
            handed == expect.handed_over,
            "not handed to the advisor" if expect.handed_over else "handed to the advisor",
        )
    if expect.handover_category is not None:
        kinds = [kind for outcome in outcomes for kind in outcome.handover_categories]
        add(
            "handover_category",
            expect.handover_category in kinds,
            f"handed over as {', '.join(kinds)}" if kinds else "not handed to the advisor",
        )
    if expect.summary_folded is not None:
        summarised = any(outcome.summary for outcome in outcomes)
        add(
            "summary_folded",
            summarised == expect.summary_folded,
            "the memory was never folded into a summary"
            if expect.summary_folded
            else "the memory was folded",
        )
    calls = [call for outcome in outcomes for call in outcome.tool_calls]
    for wanted_tool in expect.tool_called:
        matching = [
            arguments
            for name, arguments in calls
            if name == wanted_tool.name
            and all(
                fold(value) in fold(str(arguments.get(key, "")))
                for key, value in wanted_tool.args_contain.items()
            )
        ]
        add(
            "tool_called",
            bool(matching),
            f"no call of {wanted_tool.name} with {wanted_tool.args_contain or 'any arguments'}",
        )
    for unwanted_tool in expect.tool_not_called:
        add("tool_not_called", all(name != unwanted_tool for name, _ in calls), f"{unwanted_tool} was called")
    if expect.grounded_numbers:
        invented = sorted(
            number
            for number in numbers_in(text)
            if number not in sources and int(number[:18]) >= SMALL_NUMBER
        )
        add("grounded_numbers", not invented, f"numbers nobody gave: {', '.join(invented)}")
    if expect.goal_met is not None:
        add(
            "goal_met",
            goal_met == expect.goal_met,
            "the simulated customer did not get what they came for"
            if expect.goal_met
            else "the simulated customer got what they came for",
        )
    if expect.language is not None and replies:
        spoken = guess_language(text)
        add("language", spoken in (None, expect.language), f"answered in {spoken}, not {expect.language}")
    return verdicts
