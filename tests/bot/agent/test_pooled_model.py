"""The chat model's pooled trip (bot.agent.model.PooledChatOpenAI) against the SDK's own trip.

Both talk to the same local OpenAI-compatible server: what the server receives, what the
caller gets back and which exception a failure raises must not depend on the trip.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.tools import tool

from bot.agent.model import build_chat_model
from bot.infra.http import shared_http_session
from bot.settings import Settings
from tests.fakes import FakeOpenAI


@tool
def look_up_price(product: str) -> str:
    """Busca el precio de un producto en la lista del negocio."""
    return product


PROMPT = [SystemMessage("Eres un asesor."), HumanMessage("¿Cuánto cuesta el apartamento?")]


async def _ask(settings: Settings, session: aiohttp.ClientSession | None) -> AIMessage:
    model = build_chat_model(settings, http_session=session)
    assert model is not None
    answer = await model.bind_tools([look_up_price]).ainvoke(PROMPT)
    assert isinstance(answer, AIMessage)
    return answer


async def test_the_server_receives_the_same_request_and_the_caller_the_same_answer(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    settings = make_settings()
    fake_openai.cached_tokens = 7
    through_sdk = await _ask(settings, None)
    async with shared_http_session() as session:
        pooled = await _ask(settings, session)

    assert len(fake_openai.requests) == 2
    sdk_request, pooled_request = fake_openai.requests
    assert pooled_request == sdk_request  # model, messages, tools, max_tokens: all of it
    assert pooled_request["tools"][0]["function"]["name"] == "look_up_price"
    assert pooled.text == through_sdk.text != ""
    assert pooled.usage_metadata == through_sdk.usage_metadata
    assert pooled.usage_metadata is not None
    assert pooled.usage_metadata["input_token_details"]["cache_read"] == 7


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
    ],
)
async def test_a_failure_raises_the_sdks_own_exception(
    make_settings: Callable[..., Settings],
    fake_openai: FakeOpenAI,
    status: int,
    error: type[openai.APIStatusError],
) -> None:
    fake_openai.failures = [status]
    fake_openai.failure_error = {"message": "scripted", "type": "x", "code": "context_length_exceeded"}
    fake_openai.failure_headers = {"retry-after": "12"}
    async with shared_http_session() as session:
        with pytest.raises(error) as raised:
            await _ask(make_settings(), session)
    assert raised.value.status_code == status
    assert raised.value.response.headers["retry-after"] == "12"  # what the queue's retry honours
    if status == 400:
        assert raised.value.code == "context_length_exceeded"  # what the smaller-memory retry reads


async def test_a_server_that_does_not_answer_in_time_is_a_timeout(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    fake_openai.latency = 1.5
    async with shared_http_session() as session:
        with pytest.raises(openai.APITimeoutError):
            await _ask(make_settings(openai_timeout_seconds=0.3), session)


async def test_a_server_nobody_listens_on_is_a_connection_error(
    make_settings: Callable[..., Settings], unused_tcp_port: int
) -> None:
    settings = make_settings(openai_base_url=f"http://127.0.0.1:{unused_tcp_port}/v1")
    async with shared_http_session() as session:
        with pytest.raises(openai.APIConnectionError):
            await _ask(settings, session)


async def test_after_the_session_closes_the_sdks_trip_answers(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    async with shared_http_session() as session:
        pass
    answer: Any = await _ask(make_settings(), session)
    assert answer.text
    assert len(fake_openai.requests) == 1
