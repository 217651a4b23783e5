"""Owns what an evaluation scenario is: the advisor's set-up, the customer's turns, what is expected.

Scenarios are data (JSON or YAML under `evals/`), so a business adds its own without code. A
file holds one scenario, or `{"scenarios": [...]}`; every field is checked, and a bad one is
one error naming the file and the field (`evals/precio.yaml: turns.0.expect.max_messages: …`).
docs/evaluation.md describes each field and check.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from memory.records.handover_briefs import HandoverCategory

SHIPPED = Path(__file__).resolve().parents[2] / "evals"
SUFFIXES = (".json", ".yaml", ".yml")

Text = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolExpectation(_Strict):
    """A tool the agent should call, optionally with argument values containing given text."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    args_contain: dict[str, str] = Field(default_factory=dict)


class Expect(_Strict):
    """Checks on one turn's reply (or, at conversation level, on the whole conversation)."""

    reply_contains: list[Text] = Field(default_factory=list, description="every one appears")
    reply_contains_any: list[Text] = Field(default_factory=list, description="at least one appears")
    reply_not_contains: list[Text] = Field(default_factory=list)
    reply_matches: Text | None = Field(default=None, description="a regular expression")
    no_reply: bool | None = None
    max_messages: Annotated[int, Field(ge=1, le=20)] | None = None
    handed_over: bool | None = None
    handover_category: HandoverCategory | None = Field(default=None, description="the hand-over's kind")
    summary_folded: bool | None = Field(default=None, description="the AI memory was folded into a summary")
    tool_called: list[ToolExpectation] = Field(default_factory=list)
    tool_not_called: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=list
    )
    grounded_numbers: bool | None = None
    goal_met: bool | None = Field(default=None, description="a simulated customer got what they came for")
    language: Annotated[str, StringConstraints(pattern=r"^(es|en)$")] | None = None


class Document(_Strict):
    """A knowledge document of the advisor (what the business sells)."""

    source: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^/\\\x00]+$")]
    text: Text


class AdvisorSetup(_Strict):
    """The advisor the customer writes to."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)] = "Ana Gómez"
    instructions: Text | None = None
    language: Annotated[str, StringConstraints(pattern=r"^(es|en)$")] = "es"
    knowledge: list[Document] = Field(default_factory=list)
    time_zone: str | None = None
    working_hours: dict[str, list[str]] | None = None


class Profile(_Strict):
    """What the advisor already knows of a returning customer."""

    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    labels: list[Annotated[str, StringConstraints(max_length=50)]] = Field(default_factory=list)
    notes: Annotated[str, StringConstraints(max_length=8000)] | None = None
    stage: Annotated[str, StringConstraints(pattern=r"^(new|interested|booked|inactive)$")] | None = None


class Turn(_Strict):
    """One message of the customer, and what its answer must be.

    `say` is a text message; `voice` a voice note that says those words (sent as audio, its
    transcription answered with them). `wait` is how long the customer is silent before it.
    """

    say: Text | None = None
    voice: Text | None = None
    wait: Annotated[float, Field(ge=0, le=600)] = 0
    expect: Expect = Field(default_factory=Expect)

    @model_validator(mode="after")
    def _one_message(self) -> Turn:
        if (self.say is None) == (self.voice is None):
            raise ValueError("a turn has either `say` (text) or `voice` (a voice note's words)")
        return self

    @property
    def words(self) -> str:
        """What the customer said, typed or spoken."""
        return self.say if self.say is not None else str(self.voice)


class Scenario(_Strict):
    """One conversation to run through the real server."""

    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,80}$")]
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    tags: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,40}$")]] = Field(default_factory=list)
    advisor: AdvisorSetup = Field(default_factory=AdvisorSetup)
    profile: Profile | None = None
    customer_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    turns: Annotated[list[Turn], Field(min_length=1, max_length=200)] | None = None
    persona: Text | None = Field(default=None, description="who a simulated customer is")
    goal: Text | None = Field(default=None, description="what a simulated customer wants")
    max_turns: Annotated[int, Field(ge=1, le=40)] = 8
    expect: Expect = Field(default_factory=Expect, description="checks on the whole conversation")
    rubric: dict[
        Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,40}$")],
        Annotated[str, StringConstraints(min_length=1, max_length=1000)],
    ] = Field(default_factory=dict, description="the judge's criteria: added to, or refining, the four")

    @model_validator(mode="after")
    def _turns_or_persona(self) -> Scenario:
        if self.turns is None and (self.persona is None or self.goal is None):
            raise ValueError("a scenario has `turns`, or a `persona` and a `goal` for a simulated customer")
        if self.turns is not None and (self.persona is not None or self.goal is not None):
            raise ValueError("a scenario has either fixed `turns` or a simulated customer, not both")
        if self.expect.goal_met is not None and self.persona is None:
            raise ValueError("expect.goal_met needs a simulated customer (`persona` and `goal`)")
        return self

    @property
    def simulated(self) -> bool:
        """Whether a second model plays the customer (a persona and a goal, no fixed turns)."""
        return self.turns is None


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the field."""


def load_scenarios(path: Path | None = None) -> list[Scenario]:
    """Every scenario of a file or of a folder's files (the shipped set by default), in order.

    Raises:
        ScenarioError: a file cannot be read, is not JSON or YAML, or has a bad field.
    """
    target = path or SHIPPED
    if target.is_dir():
        files = sorted(p for p in target.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
        if not files:
            raise ScenarioError(f"{target}: no scenario files ({', '.join(SUFFIXES)})")
    elif target.is_file():
        files = [target]
    else:
        raise ScenarioError(f"{target}: no such file or folder")
    scenarios: list[Scenario] = []
    seen: dict[str, Path] = {}
    for file in files:
        for scenario in _scenarios_of(file):
            if scenario.id in seen:
                raise ScenarioError(f"{file}: id {scenario.id!r} is also used in {seen[scenario.id]}")
            seen[scenario.id] = file
            scenarios.append(scenario)
    return scenarios


def _scenarios_of(file: Path) -> list[Scenario]:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"{file}: cannot be read ({error})") from None
    data = _parse(file, text)
    items = data.get("scenarios") if isinstance(data, dict) and "scenarios" in data else [data]
    if not isinstance(items, list):
        raise ScenarioError(f"{file}: scenarios: must be a list")
    found = []
    for position, item in enumerate(items):
        where = f"scenarios.{position}." if len(items) > 1 or "scenarios" in (data or {}) else ""
        try:
            found.append(Scenario.model_validate(item))
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "(the scenario)"
            raise ScenarioError(f"{file}: {where}{field}: {first['msg']}") from None
    return found


def _parse(file: Path, text: str) -> Any:
    if file.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise ScenarioError(f"{file}: not JSON (line {error.lineno}: {error.msg})") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise ScenarioError(f"{file}: not YAML ({line}{getattr(error, 'problem', error)})") from None
