"""Owns the OpenAI-compatible clients (chat, audio): key, URL, retries, and the memory they allow."""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx2
import openai
import orjson
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult
from langchain_openai import ChatOpenAI
from pydantic import Field, SecretStr

from bot.settings import Settings
from memory.ai.budget import MemoryBudget, memory_budget


def openai_api_key(settings: Settings) -> str:
    """The API key; a local OpenAI-compatible server (OPENAI_BASE_URL alone) needs none."""
    return settings.openai_api_key.get_secret_value() if settings.openai_api_key else "local"


def audio_client(settings: Settings) -> openai.AsyncOpenAI:
    """A client for the audio endpoints: one quick retry inside, the rest is the caller's fallback."""
    return openai.AsyncOpenAI(
        api_key=openai_api_key(settings),
        base_url=settings.openai_base_url,
        timeout=settings.openai_timeout_seconds,
        max_retries=1,
    )


# Context windows of the models people configure, by name prefix (longest wins), from the
# providers' model pages; a model not here (a local one) is taken to have UNKNOWN_CONTEXT_TOKENS
# until MODEL_CONTEXT_TOKENS says otherwise.
KNOWN_CONTEXT_TOKENS: dict[str, int] = {
    "gpt-5": 400_000,
    "gpt-4.1": 1_047_576,
    "gpt-4o": 128_000,
    "gpt-4-turbo": 128_000,
    "gpt-4": 8_192,
    "gpt-3.5-turbo": 16_385,
    "o1": 200_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "llama3.1": 128_000,
    "llama3.2": 128_000,
    "llama3": 8_192,
    "qwen2.5": 32_768,
    "mistral": 32_768,
}
UNKNOWN_CONTEXT_TOKENS = 8_192  # small on purpose: a prompt too long for the model is refused


def context_tokens_for(settings: Settings) -> int:
    """The model's context window: MODEL_CONTEXT_TOKENS, else the known figure for OPENAI_MODEL."""
    if settings.model_context_tokens is not None:
        return settings.model_context_tokens
    name = settings.openai_model.lower().rsplit("/", 1)[-1]  # "openai/gpt-4o" → "gpt-4o"
    known = [prefix for prefix in KNOWN_CONTEXT_TOKENS if name.startswith(prefix)]
    return KNOWN_CONTEXT_TOKENS[max(known, key=len)] if known else UNKNOWN_CONTEXT_TOKENS


def memory_budget_for(settings: Settings) -> MemoryBudget:
    """The AI's memory bounds; unset figures follow the model's window (see memory.ai.budget)."""
    return memory_budget(
        context_tokens=context_tokens_for(settings),
        memory_tokens=settings.ai_memory_tokens,
        summary_tokens=settings.ai_summary_tokens,
    )


class PooledChatOpenAI(ChatOpenAI):
    """ChatOpenAI whose chat completions travel over the worker's shared aiohttp session.

    The request is the one langchain-openai builds and the answer is read by langchain-openai
    too; only the trip between them changes. The SDK's own trip cost more CPU than the rest of
    a reply's Python together (measured in docs/benchmarks.md, replies per core): it walks every
    message and tool schema through its type transforms, sends through httpx, and parses the
    result in a thread. Failures become the SDK's own exceptions (`openai.RateLimitError`,
    `APITimeoutError`, …), so callers and retries see no difference. Anything this path does not
    cover (structured output, the Responses API, streaming, no session) takes the SDK's path.
    """

    http_session: Any = Field(default=None, exclude=True)  # aiohttp.ClientSession

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        session: aiohttp.ClientSession | None = self.http_session
        payload = self._get_request_payload(messages, stop=stop, **kwargs)
        if (
            session is None
            or session.closed
            or payload.get("stream")
            or "response_format" in payload
            or self._use_responses_api(payload)
            or callable(self.openai_api_key)  # a key fetched per call: the SDK knows how
        ):
            return await super()._agenerate(messages, stop=stop, run_manager=run_manager, **kwargs)
        return self._create_chat_result(await self._completion(session, payload), {})

    async def _completion(self, session: aiohttp.ClientSession, payload: dict[str, Any]) -> dict[str, Any]:
        """POST one chat completion; the parsed body, or the SDK's exception for the failure."""
        client = self.root_async_client
        url = str(client.base_url).rstrip("/") + "/chat/completions"
        request = httpx2.Request("POST", url)
        key = self.openai_api_key.get_secret_value() if isinstance(self.openai_api_key, SecretStr) else ""
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Bearer {key}",
            **({"OpenAI-Organization": self.openai_organization} if self.openai_organization else {}),
            **(self.default_headers or {}),
        }
        seconds = self.request_timeout if isinstance(self.request_timeout, int | float) else None
        try:
            async with session.post(
                url, data=orjson.dumps(payload), headers=headers, timeout=aiohttp.ClientTimeout(total=seconds)
            ) as response:
                status, answered, body = (
                    response.status,
                    list(response.headers.items()),
                    await response.read(),
                )
        except TimeoutError as error:
            raise openai.APITimeoutError(request=request) from error
        except aiohttp.ClientError as error:
            raise openai.APIConnectionError(request=request) from error
        if status >= 400:
            failed = httpx2.Response(status, headers=answered, content=body, request=request)
            raise client._make_status_error_from_response(failed)  # the SDK's class for each status
        try:
            parsed: dict[str, Any] = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise openai.APIResponseValidationError(
                response=httpx2.Response(status, headers=answered, content=body, request=request),
                body=body.decode(errors="replace")[:200],
                message="the model server answered something that is not JSON",
            ) from error
        return parsed


def build_chat_model(
    settings: Settings, *, http_session: aiohttp.ClientSession | None = None
) -> BaseChatModel | None:
    """Return the configured chat model, or None when neither a key nor a base URL is set.

    Retries belong to the job queue (with backoff and a bounded number of attempts), so the
    client itself does not retry. With `http_session` (the worker's, bot.infra.http), chat
    calls share its kept-open connections with Twilio's.
    """
    if not settings.model_configured:
        return None
    return PooledChatOpenAI(
        model=settings.openai_model,
        api_key=openai_api_key(settings),  # type: ignore[arg-type]
        base_url=settings.openai_base_url,
        timeout=settings.openai_timeout_seconds,
        max_retries=0,
        # The answer's bound: what the prompt budget keeps free for it, never a 17,000-character reply.
        max_tokens=settings.reply_token_reserve,  # type: ignore[call-arg]
        http_session=http_session,
    )
