"""A fold never loses for good a fact the previous summary held.

The model here is LangChain's own scripted chat model (no server needed: nothing but the text
it returns matters to the fold), answering each summary request from a list.
"""

from __future__ import annotations

import asyncio

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage

from bot.agent.context import RememberedMessage
from bot.agent.summary import extractive_summary, fold_into_summary, lost_facts

PREVIOUS = "Laura Gómez busca apartamento en Torre Norte. Su presupuesto es de 300 millones."
TURNS = (
    RememberedMessage(10, HumanMessage("Quiero ver el de tres alcobas el sábado.")),
    RememberedMessage(11, AIMessage("Con gusto, ¿a qué hora?")),
)


def _fold(*answers: str) -> tuple[str, GenericFakeChatModel]:
    model = GenericFakeChatModel(messages=iter([AIMessage(text) for text in answers]))
    return asyncio.run(fold_into_summary(model, PREVIOUS, TURNS, max_tokens=400)), model


def test_a_summary_that_drops_a_fact_is_asked_for_again_naming_it() -> None:
    folded, _ = _fold(
        "Laura busca apartamento de tres alcobas y quiere visitarlo el sábado.",
        "Laura Gómez (presupuesto 300 millones) quiere visitar Torre Norte el sábado.",
    )
    assert folded == "Laura Gómez (presupuesto 300 millones) quiere visitar Torre Norte el sábado."


def test_a_fact_dropped_twice_is_kept_in_code_after_the_models_summary() -> None:
    forgetful = "Laura quiere visitar el de tres alcobas el sábado."
    folded, _ = _fold(forgetful, forgetful)
    assert folded.startswith(forgetful)
    assert "Datos anteriores:" in folded and "300 millones" in folded and "Torre Norte" in folded
    assert lost_facts(PREVIOUS, folded) == []


def test_figures_are_compared_by_value_and_a_first_summary_has_nothing_to_lose() -> None:
    assert lost_facts("El presupuesto es de 300 millones.", "Presupuesto: $300.000.000") == []
    assert lost_facts("", "Cualquier cosa") == []


def test_the_extractive_summary_keeps_the_customers_sentences_with_names_and_figures() -> None:
    turns = (
        RememberedMessage(1, HumanMessage("Hola. Me llamo Laura Gómez. Mi presupuesto es de 300 millones.")),
        RememberedMessage(2, AIMessage("Encantada, Laura.")),
        RememberedMessage(3, HumanMessage("¿Tiene balcón? Gracias.")),
    )
    summary = extractive_summary("Busca apartamento.", turns, max_tokens=200)
    assert summary.splitlines() == [
        "Busca apartamento.",
        "Cliente: Me llamo Laura Gómez.",
        "Cliente: Mi presupuesto es de 300 millones.",
    ]
    short = extractive_summary("Busca apartamento.", turns, max_tokens=21)
    assert short.splitlines()[0] == "Busca apartamento." and "300 millones" in short  # the oldest went
