from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.messages.utils import count_tokens_approximately

from memory.ai.trimming import messages_within_budget, pictures_as_text


def _conversation(turns: int) -> list:
    history: list = []
    for turn in range(turns):
        history.append(HumanMessage(f"pregunta {turn} " + "palabra " * 30, id=f"h{turn}"))
        history.append(AIMessage(f"respuesta {turn} " + "palabra " * 30, id=f"a{turn}"))
    return history


def test_short_conversations_are_sent_whole() -> None:
    history = _conversation(3)
    kept = messages_within_budget("Eres Ana.", history, max_tokens=10_000)
    assert kept == [SystemMessage("Eres Ana."), *history]


def test_long_conversations_keep_the_system_prompt_and_the_newest_turns_within_budget() -> None:
    for turns in (10, 100, 1000):
        history = [*_conversation(turns), HumanMessage("la última", id="last")]
        kept = messages_within_budget("Eres Ana.", history, max_tokens=500)
        assert isinstance(kept[0], SystemMessage)
        assert kept[-1].content == "la última"
        assert isinstance(kept[1], HumanMessage)
        assert count_tokens_approximately(kept) <= 500


def test_a_cut_never_starts_on_a_tool_result() -> None:
    history = [
        HumanMessage("hola " * 50, id="h0"),
        AIMessage(
            "",
            tool_calls=[
                {
                    "name": "hand_over_to_advisor",
                    "args": {"reason": "x", "category": "customer_request"},
                    "id": "c1",
                }
            ],
            id="a0",
        ),
        ToolMessage("ok", tool_call_id="c1", id="t0"),
        AIMessage("listo " * 20, id="a1"),
        HumanMessage("gracias", id="h1"),
    ]
    kept = messages_within_budget("Eres Ana.", history, max_tokens=60)
    assert not isinstance(kept[1], ToolMessage | AIMessage)


def test_an_oversized_newest_message_is_still_sent() -> None:
    kept = messages_within_budget("Eres Ana.", [HumanMessage("x" * 10_000, id="big")], max_tokens=100)
    assert [type(m) for m in kept] == [SystemMessage, HumanMessage]


def test_pictures_become_their_text_once_answered() -> None:
    photo = {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64," + "A" * 10_000}}
    history = [
        HumanMessage([{"type": "text", "text": "¿Lo tienen en azul?"}, photo], id="h1"),
        AIMessage("Sí, en azul también.", id="a1"),
        HumanMessage("¿y en rojo?", id="h2"),
    ]
    replaced = pictures_as_text(history)
    assert replaced == [HumanMessage("¿Lo tienen en azul?", id="h1")]


def test_the_turn_being_answered_is_kept_whole_every_call_with_its_result() -> None:
    """Found in a model that kept calling tools: trimming kept a result without its call and
    dropped the customer's question. The current turn is never cut; earlier turns make room."""
    question = HumanMessage("¿cuánto cuesta el de dos habitaciones?", id="q")
    current: list = [question]
    for n in range(8):
        call = {"name": "search_knowledge", "args": {"query": f"precio {n}"}, "id": f"c{n}"}
        current.append(AIMessage("", tool_calls=[call], id=f"a{n}"))
        current.append(ToolMessage("pasaje " * 200, tool_call_id=f"c{n}", id=f"t{n}"))
    kept = messages_within_budget("Eres Ana.", _conversation(50), current=current, max_tokens=1_000)
    assert kept[0] == SystemMessage("Eres Ana.") and kept[1:] == current  # no earlier turn fits
    calls = {call["id"] for m in kept if isinstance(m, AIMessage) for call in m.tool_calls}
    results = {m.tool_call_id for m in kept if isinstance(m, ToolMessage)}
    assert calls == results

    roomy = messages_within_budget("Eres Ana.", _conversation(50), current=current[:3], max_tokens=2_000)
    assert roomy[-3:] == current[:3] and isinstance(roomy[1], HumanMessage) and len(roomy) > 4
    assert count_tokens_approximately(roomy) <= 2_000
