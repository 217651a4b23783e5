"""Prompts a model server's prefix cache can reuse, and tools that cost no second call.

Checked on what the fake model actually receives through the real worker: each turn's prompt
begins with the whole fixed part of the previous turn's (tools, rules, instructions, the turns
so far), what changes (date, hours, profile) comes only just before the newest message, and
every conversation of an advisor (and, up to the advisor's instructions, of the deployment)
begins the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from bot.agent.graph import prompt_cache_key_for
from bot.agent.rulebook import RULEBOOK
from bot.app import create_app
from bot.settings import Settings
from tests.conftest import Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio, Reply, echo_model, moment_note_of, prompt_roles

ANA, BRUNO = "+14155238886", "+14155238887"
CAMILA, DIEGO = "+573001112233", "+573001114455"
ALWAYS_OPEN = json.dumps(
    {
        "time_zone": "America/Bogota",
        "working_hours": {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    }
)


def _post(client: TestClient, to: str, customer: str, body: str) -> None:
    assert signed_post(client, inbound_form(to, customer, body)).status_code == 200


def _fixed_part(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages of a request before its note of the moment: what the next turn must repeat."""
    roles = prompt_roles(request)
    return request["messages"][: roles.index("note")]


def test_each_turn_begins_with_the_previous_turns_fixed_part_and_the_moment_comes_last(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    def model(messages: list[dict[str, Any]]) -> Reply:
        if "me llamo" in str(messages[-1]["content"]):  # a profile write, beside the answer
            return {
                "content": "Encantada, Camila.",
                "tool_calls": [("update_customer_profile", {"name": "Camila"})],
            }
        return echo_model(messages)

    fake_openai.behaviour = model
    db.add_advisor("Ana", ANA, phone="+573009990001", settings=ALWAYS_OPEN)
    db.add_advisor("Bruno", BRUNO, phone="+573009990002", settings=ALWAYS_OPEN)
    said = ["Hola", "Me interesa un apartamento", "me llamo Camila", "¿Tiene balcón?", "¿Y parqueadero?"]
    for turn, text in enumerate(said, start=1):
        _post(client, ANA, CAMILA, text)
        wait_for(lambda turn=turn: len(fake_twilio.bodies_to(CAMILA)) == turn, what=f"reply {turn}")
    _post(client, ANA, DIEGO, "Buenas tardes")
    _post(client, BRUNO, CAMILA, "Hola Bruno")
    wait_for(lambda: fake_twilio.bodies_to(DIEGO) and len(fake_twilio.bodies_to(CAMILA)) == len(said) + 1)
    settle(db)

    requests = fake_openai.requests
    anas_camila = requests[: len(said)]
    assert len(anas_camila) == len(said)  # one request a turn: the profile write cost no second call
    for previous, current in zip(anas_camila, anas_camila[1:], strict=False):
        fixed = _fixed_part(previous)
        assert current["messages"][: len(fixed)] == fixed  # the cacheable prefix only grows
        assert current["tools"] == previous["tools"]
        assert prompt_roles(current)[-2:] == ["note", "user"]  # the moment, then the newest message
    # The profile written at turn 3 is in the note of the next turns, never in the fixed part.
    assert "Nombre: Camila" in moment_note_of(anas_camila[3])
    assert "Camila" not in anas_camila[3]["messages"][0]["content"]
    # Every conversation of Ana begins with the same system message; Bruno's with the same rules.
    diegos = next(r for r in requests if any(m["content"] == "Buenas tardes" for m in r["messages"]))
    brunos = next(r for r in requests if any(m["content"] == "Hola Bruno" for m in r["messages"]))
    assert diegos["messages"][0] == anas_camila[0]["messages"][0]
    assert diegos["tools"] == anas_camila[0]["tools"] == brunos["tools"]
    assert brunos["messages"][0]["content"].startswith(RULEBOOK)
    assert brunos["messages"][0] != anas_camila[0]["messages"][0]  # the advisors' instructions differ
    # No prompt_cache_key to a server that did not ask for one (auto: only api.openai.com).
    assert all("prompt_cache_key" not in r for r in requests)


def test_a_prompt_cache_key_names_the_advisor_when_asked_for(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    ana, bruno = (
        db.add_advisor("Ana", ANA, phone="+573009990001"),
        db.add_advisor("Bruno", BRUNO, phone="+573009990002"),
    )
    settings = make_settings(openai_prompt_cache_key="on")
    with TestClient(create_app(settings)) as client:
        _post(client, ANA, CAMILA, "Hola")
        _post(client, ANA, DIEGO, "Hola")
        _post(client, BRUNO, CAMILA, "Hola")
        wait_for(lambda: len(fake_twilio.bodies_to(CAMILA)) == 2 and fake_twilio.bodies_to(DIEGO))
    keys = sorted(r["prompt_cache_key"] for r in fake_openai.requests)
    assert keys == sorted([prompt_cache_key_for(ana), prompt_cache_key_for(ana), prompt_cache_key_for(bruno)])
    assert ana not in keys[0]  # a digest: the provider needs only that it stays the same


def test_a_quiet_tool_that_fails_or_any_other_tool_still_goes_back_to_the_model(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    def model(messages: list[dict[str, Any]]) -> Reply:
        last = messages[-1]
        if last["role"] == "tool":
            return {"content": "Respuesta tras la herramienta: " + str(last["content"])[:40]}
        if "etapa" in str(last["content"]):  # a stage the tool refuses: its error must be read
            return {"content": "Anotado.", "tool_calls": [("update_customer_profile", {"stage": "ganado"})]}
        return {
            "content": "Te paso con Ana.",
            "tool_calls": [
                ("hand_over_to_advisor", {"reason": "pide a Ana", "category": "customer_request"})
            ],
        }

    fake_openai.behaviour = model
    db.advisor_wrote_today(db.add_advisor("Ana", ANA, phone="+573009990001"))
    _post(client, ANA, CAMILA, "cambia mi etapa")
    wait_for(lambda: fake_twilio.bodies_to(CAMILA), what="the reply after the failed tool")
    assert len(fake_openai.requests) == 2
    assert fake_twilio.bodies_to(CAMILA)[0].startswith("Respuesta tras la herramienta: ")
    _post(client, ANA, DIEGO, "quiero hablar con Ana")
    wait_for(lambda: fake_twilio.bodies_to(DIEGO), what="the reply after the hand-over")
    assert len(fake_openai.requests) == 4  # a hand-over's result is news: the model reads it
