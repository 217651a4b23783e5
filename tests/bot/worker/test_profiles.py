"""The agent remembers who the customer is: its tool writes the profile of this advisor's customer
only, and the profile is in the prompt of every later turn (changed from anywhere, seen next turn)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.conftest import Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio, Reply, echo_model

ANA, BRUNO, CUSTOMER = "+14155238886", "+14155238887", "+573001112233"


def _system_prompt(request: dict[str, Any]) -> str:
    """What the agent is told besides the turns: the system message and this moment's note."""
    told = [m["content"] for m in request["messages"] if m["role"] == "system"]
    told += [m["content"] for m in request["messages"] if "<contexto>" in str(m["content"])]
    return "\n".join(map(str, told))


def test_the_agent_remembers_the_customer_for_this_advisor_only(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    def model(messages: list[dict[str, Any]]) -> Reply:
        if messages[-1]["role"] == "tool":
            return {"content": "Encantada, Camila."}
        if "me llamo" in str(messages[-1]["content"]):
            facts = {
                "name": "Camila",
                "facts": {"ciudad": "Cali"},
                "labels": ["vip"],
                "stage": "interested",
                "marketing_consent": True,  # "sí, envíenme ofertas"
            }
            return {"tool_calls": [("update_customer_profile", facts)]}
        return echo_model(messages)

    fake_openai.behaviour = model
    ana = db.add_advisor("Ana", ANA, phone="+573009990001")
    db.add_advisor("Bruno", BRUNO, phone="+573009990002")
    assert (
        signed_post(client, inbound_form(ANA, CUSTOMER, "Hola, me llamo Camila, vivo en Cali")).status_code
        == 200
    )
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the first reply")
    settle(db)
    stored = db.query("SELECT advisor_id, name, labels, data, stage FROM customer_profiles")
    assert stored == [
        {
            "advisor_id": stored[0]["advisor_id"],
            "name": "Camila",
            "labels": ["vip"],
            "data": {"ciudad": "Cali"},
            "stage": "interested",
        }
    ]
    assert str(stored[0]["advisor_id"]) == ana
    # Consent given through the agent's tool is recorded as the AI's change.
    assert db.query("SELECT consent, changed_by FROM consent_changes") == [
        {"consent": True, "changed_by": "ai"}
    ]
    first_prompt = _system_prompt(fake_openai.requests[0])
    assert "Camila" not in first_prompt  # nothing was known before the tool ran
    signed_post(client, inbound_form(ANA, CUSTOMER, "¿qué precio tiene?"))
    signed_post(client, inbound_form(BRUNO, CUSTOMER, "hola Bruno"))
    settle(db)
    prompts = [_system_prompt(r) for r in fake_openai.requests]
    anas_later = next(p for p in reversed(prompts) if "Ana" in p)
    brunos = next(p for p in prompts if "Bruno" in p)
    assert (
        "Nombre: Camila" in anas_later and "ciudad: Cali" in anas_later and "Etapa: interested" in anas_later
    )
    assert "Camila" not in brunos and "Cali" not in brunos
    # A change made elsewhere (the API, the console) is in the very next turn's prompt.
    db.query("UPDATE customer_profiles SET notes = 'Prefiere llamadas' WHERE advisor_id = %s", (ana,))
    db.query("UPDATE chat_history SET profile_updated_at = now() WHERE advisor_id = %s", (ana,))
    signed_post(client, inbound_form(ANA, CUSTOMER, "¿y la dirección?"))
    settle(db)
    assert "Notas del asesor: Prefiere llamadas" in _system_prompt(fake_openai.requests[-1])
