"""The cost meter: what each message and model call cost, from the rate card and the model's usage.

The rate card and price list are read as users write them (errors name the line); an AI reply
through the real worker is billed as a `service` message to the customer's country, and its
model call is stored with the prompt, cached and completion tokens the fake model reported,
priced by MODEL_PRICES; the stats API adds them up per advisor and day, never across advisors.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
from psycopg.rows import dict_row
from starlette.testclient import TestClient

from advisors.models import Advisor
from bot.app import create_app
from bot.infra.pricing import (
    ModelPrices,
    PricingError,
    load_rate_card,
    parse_model_prices,
    parse_rate_card,
)
from bot.settings import Settings
from bot.worker.billing import billing_category
from memory.records.usage import conversation_cost
from tests.conftest import Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio

ANA, BRUNO, CUSTOMER = "+14155238886", "+14155238887", "+573001112233"
ADMIN = "admin-token-for-cost-tests-0123456"
HEADER = "country,service,utility,marketing,authentication"


def test_the_shipped_rate_card_is_dated_and_prices_each_category_by_country() -> None:
    card = load_rate_card()
    assert card.rates_of == "2025-07-01"
    assert card.whatsapp_cost("marketing", "CO") == Decimal("0.0125")
    assert card.whatsapp_cost("service", "CO") == Decimal("0.0008")
    assert card.whatsapp_cost("marketing", "JP") == card.rates["*"]["marketing"]  # every other country
    assert card.whatsapp_cost("utility", None) == card.rates["*"]["utility"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("country,service,utility\nCO,1,1\n*,1,1", "line 1: the header must be country,"),
        (f"{HEADER}\nColombia,1,1,1,1\n*,1,1,1,1", "line 2: «Colombia» is not a country code"),
        (f"{HEADER}\nCO,1,gratis,1,1\n*,1,1,1,1", "line 2: utility «gratis» is not a price"),
        (f"{HEADER}\nCO,1,-1,1,1\n*,1,1,1,1", "line 2: utility «-1» must be a price of 0 or more"),
        (f"{HEADER}\nCO,1,1,1\n*,1,1,1,1", "line 2: 4 cells where the header has 5"),
        (f"{HEADER}\nCO,1,1,1,1\nco,2,2,2,2\n*,1,1,1,1", "line 3: CO appears twice"),
        (f"# only a comment\n{HEADER}\nCO,1,1,1,1", "no «*» row"),
        ("# nothing", "no header row"),
    ],
)
def test_a_bad_rate_card_is_refused_naming_the_row_and_why(text: str, error: str) -> None:
    with pytest.raises(PricingError) as refused:
        parse_rate_card(text, name="card.csv")
    assert str(refused.value).startswith("card.csv: ") and error in str(refused.value)


def test_model_prices_count_cached_tokens_at_their_own_price_and_refuse_what_is_unreadable() -> None:
    prices = ModelPrices(
        parse_model_prices('{"local-llm": {"prompt": 1.0, "cached": 0.25, "completion": 4}}')
    )
    cost = prices.cost("local-llm", prompt_tokens=1_000_000, cached_tokens=400_000, completion_tokens=500_000)
    assert cost == Decimal("0.6") + Decimal("0.1") + Decimal("2")
    dated = ModelPrices(parse_model_prices(None))
    assert dated.cost("gpt-4o-mini-2024-07-18", prompt_tokens=1_000_000) == Decimal("0.15")  # by prefix
    assert dated.cost("whisper-1", audio_seconds=90) == Decimal("0.009")
    assert dated.cost("unknown-model", prompt_tokens=10**9) == 0
    for raw, error in (
        ("{", "not JSON"),
        ("[1]", "must be an object"),
        ('{"m": {"tokens": 1}}', "unknown unit 'tokens'"),
        ('{"m": {"prompt": -1}}', "a price of 0 or more"),
    ):
        with pytest.raises(PricingError, match=error):
            parse_model_prices(raw)


def test_a_reply_is_service_a_template_its_own_category_and_a_campaign_marketing() -> None:
    template = {"name": "visita", "content_sid": "HX" + "a" * 32, "category": "utility"}
    offer = {"name": "oferta", "content_sid": "HX" + "b" * 32, "category": "marketing"}
    ana = Advisor.model_validate(
        {
            "id": "00000000-0000-0000-0000-000000000001",
            "name": "Ana",
            "phone_number": "+573009990000",
            "twilio_phone_number": ANA,
            "is_active": True,
            "settings": {"templates": [template, offer]},
        }
    )
    assert billing_category(None, ana) == "service"
    assert billing_category({"choices": {"kind": "list"}, "content_sid": "HX" + "c" * 32}, ana) == "service"
    assert billing_category({"content_sid": template["content_sid"]}, ana) == "utility"
    assert billing_category({"content_sid": offer["content_sid"]}, ana) == "marketing"
    assert billing_category({"content_sid": "HX" + "d" * 32, "campaign_id": 7}, ana) == "marketing"
    assert billing_category({"content_sid": "HX" + "d" * 32}, ana) == "utility"  # a template not listed


def test_an_ai_reply_and_its_model_call_are_costed_and_summed_per_advisor_only(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    ana = db.add_advisor("Ana", ANA, phone="+573009990001")
    bruno = db.add_advisor("Bruno", BRUNO, phone="+573009990002")
    fake_openai.cached_tokens = 100
    prices = {"fake-model": {"prompt": 2.0, "cached": 0.5, "completion": 8.0}}
    settings = make_settings(admin_token=ADMIN, model_prices=json.dumps(prices), twilio_fee_per_message=0.004)
    with TestClient(create_app(settings)) as client:
        assert (
            signed_post(client, inbound_form(ANA, CUSTOMER, "Hola, ¿tienen apartamentos?")).status_code == 200
        )
        wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the reply")
        settle(db)
        reply = db.query(
            "SELECT billing_category, billing_country, whatsapp_cost_usd, twilio_cost_usd FROM messages "
            "WHERE direction = 'outbound'"
        )
        assert reply == [
            {
                "billing_category": "service",
                "billing_country": "CO",
                "whatsapp_cost_usd": Decimal("0.000800"),
                "twilio_cost_usd": Decimal("0.004000"),
            }
        ]
        usage = fake_openai.usages[0]
        calls = db.query(
            "SELECT advisor_id, purpose, model, prompt_tokens, cached_tokens, completion_tokens, cost_usd "
            "FROM model_usage"
        )
        expected = (
            Decimal(usage["prompt_tokens"] - 100) * 2
            + Decimal(100) * Decimal("0.5")
            + Decimal(usage["completion_tokens"]) * 8
        ) / 1_000_000
        assert calls == [
            {
                "advisor_id": calls[0]["advisor_id"],
                "purpose": "answer",
                "model": "fake-model",
                "prompt_tokens": usage["prompt_tokens"],
                "cached_tokens": 100,
                "completion_tokens": usage["completion_tokens"],
                "cost_usd": expected.quantize(Decimal("0.000001")),
            }
        ]
        assert str(calls[0]["advisor_id"]) == ana
        headers = {"Authorization": f"Bearer {ADMIN}"}
        today = client.get(f"/api/advisors/{ana}/stats?days=1", headers=headers).json()["days"][0]
        assert today["whatsapp_cost_usd"] == pytest.approx(0.0008)
        assert today["twilio_cost_usd"] == pytest.approx(0.004)
        assert today["model_cost_usd"] == pytest.approx(float(expected), abs=1e-6)
        assert today["cached_tokens"] == 100 and today["prompt_tokens"] == usage["prompt_tokens"]
        assert today["cost_usd"] == pytest.approx(0.0048 + float(expected), abs=1e-6)
        brunos = client.get(f"/api/advisors/{bruno}/stats?days=1", headers=headers).json()["days"][0]
        assert brunos["cost_usd"] == 0 and brunos["prompt_tokens"] == 0  # another advisor's spend is not his
        conversation = db.query("SELECT conversation_id FROM chat_history WHERE advisor_id = %s", (ana,))[0]
        assert _conversation_cost(db, ana, conversation["conversation_id"]) == (
            Decimal("0.0048") + expected.quantize(Decimal("0.000001"))
        )
        metrics = client.get("/metrics").text
        assert f'advisor_bot_cost_usd_total{{advisor="{ana}",kind="whatsapp_service"}}' in metrics
        assert f'advisor_bot_model_tokens_total{{advisor="{ana}",kind="cached"}}' in metrics


def _conversation_cost(db: Db, advisor_id: str, conversation_id: UUID) -> Decimal:
    """What the console's conversation head shows as the conversation's cost so far."""

    async def read() -> Decimal:
        async with await psycopg.AsyncConnection.connect(db.url, row_factory=dict_row) as conn:
            return await conversation_cost(
                conn=conn, advisor_id=UUID(advisor_id), conversation_id=conversation_id
            )

    return asyncio.run(read())


def test_serve_with_an_unreadable_rate_card_ends_at_once_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    card = tmp_path / "rates.csv"
    card.write_text(f"{HEADER}\nCO,0.1,0.1,0.1\n*,1,1,1,1\n")
    monkeypatch.setenv("WHATSAPP_RATE_CARD", str(card))
    assert main(["serve", "--port", "1"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error == [f"error: {card}: line 2: 4 cells where the header has 5"]
