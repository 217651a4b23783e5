"""The agent's `search_knowledge` tool reads the run's advisor's documents and the shared ones only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.cli import main
from tests.conftest import Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio, Reply

ANA, BRUNO, CUSTOMER = "+14155238886", "+14155238887", "+573001112233"


def test_one_advisors_documents_never_reach_another_advisors_agent(
    client: TestClient,
    db: Db,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def model(messages: list[dict[str, Any]]) -> Reply:
        if messages[-1]["role"] == "tool":
            return {"content": "Encontré: " + str(messages[-1]["content"])}
        return {"tool_calls": [("search_knowledge", {"query": "precio apartamento dos habitaciones"})]}

    fake_openai.behaviour = model
    db.add_advisor("Ana", ANA, phone="+573009990001")
    db.add_advisor("Bruno", BRUNO, phone="+573009990002")
    monkeypatch.setenv("DATABASE_URL", db.url)
    anas = tmp_path / "catalogo-ana.md"
    anas.write_text("# Apartamentos\n\nEl apartamento de dos habitaciones cuesta 250 millones.")
    shared = tmp_path / "condiciones.md"
    shared.write_text("Todos los precios incluyen parqueadero y se pagan en pesos colombianos.")
    assert main(["knowledge", "add", "--advisor", ANA, str(anas)]) == 0
    assert main(["knowledge", "add", "--advisor", "all", str(shared)]) == 0
    for advisor in (ANA, BRUNO):
        assert (
            signed_post(client, inbound_form(advisor, CUSTOMER, "¿cuánto vale el apartamento?")).status_code
            == 200
        )
    wait_for(lambda: len(fake_twilio.bodies_to(CUSTOMER)) == 2, what="both replies")
    settle(db)
    by_sender = {m.from_: m.body for m in fake_twilio.sent}
    assert "250 millones" in by_sender[f"whatsapp:{ANA}"] and "parqueadero" in by_sender[f"whatsapp:{ANA}"]
    assert "250 millones" not in by_sender[f"whatsapp:{BRUNO}"]
    assert "parqueadero" in by_sender[f"whatsapp:{BRUNO}"]  # shared with every advisor


def test_an_ai_answer_records_the_passages_it_came_from_and_the_api_returns_them(
    make_settings: Any,
    db: Db,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def model(messages: list[dict[str, Any]]) -> Reply:
        if messages[-1]["role"] == "tool":
            return {"content": "Cuesta 250 millones."}
        return {"tool_calls": [("search_knowledge", {"query": "precio apartamento dos habitaciones"})]}

    fake_openai.behaviour = model
    ana = db.add_advisor("Ana", ANA, phone="+573009990001")
    monkeypatch.setenv("DATABASE_URL", db.url)
    catalogue = tmp_path / "catalogo.md"
    catalogue.write_text("# Apartamentos\n\nEl apartamento de dos habitaciones cuesta 250 millones.")
    assert main(["knowledge", "add", "--advisor", ANA, str(catalogue)]) == 0
    passage = db.query("SELECT id FROM knowledge_passages ORDER BY id LIMIT 1")[0]["id"]
    admin = "admin-token-for-tests-0123456789"
    with TestClient(create_app(make_settings(admin_token=admin))) as client:
        assert signed_post(client, inbound_form(ANA, CUSTOMER, "¿cuánto vale?")).status_code == 200
        wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the reply")
        settle(db)
        conversation = db.conversation(ana, CUSTOMER)
        assert conversation is not None
        shown = client.get(
            f"/api/conversations/{conversation['conversation_id']}",
            headers={"Authorization": f"Bearer {admin}"},
        ).json()["messages"]["items"]
    answer = next(m for m in shown if m["author"] == "ai")
    assert answer["sources"] == [{"document": "catalogo.md", "passage_id": passage, "rank": 1}]
    assert next(m for m in shown if m["direction"] == "inbound")["sources"] == []
