"""The agent's `search_knowledge` tool reads the run's advisor's documents and the shared ones only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

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
