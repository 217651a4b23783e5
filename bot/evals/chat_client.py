"""Owns the evaluation's own model calls: the judge's and the simulated customer's.

These are not the agent's calls (those go through the server and the recording proxy); they
are counted apart, so the tokens a scenario reports are what the advisor's AI spent. Any
OpenAI-compatible server answers them, through OpenAI's own client.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openai import AsyncOpenAI, OpenAIError


class ChatError(RuntimeError):
    """The judge's or the simulated customer's model did not answer; the message says why."""


@dataclass
class Usage:
    """Tokens spent by one helper model over a scenario run."""

    prompt: int = 0
    completion: int = 0


@dataclass
class ChatClient:
    """One model on one OpenAI-compatible server."""

    model: str
    base_url: str
    api_key: str | None
    timeout: float = 60.0
    _client: AsyncOpenAI | None = field(default=None, init=False, repr=False)

    async def answer(self, messages: list[dict[str, str]], usage: Usage, *, max_tokens: int) -> str:
        """The model's text answer to `messages`; its tokens are added to `usage`."""
        if self._client is None:
            # Local servers take any key; OpenAI's client insists on one being set.
            self._client = AsyncOpenAI(
                base_url=self.base_url, api_key=self.api_key or "none", timeout=self.timeout, max_retries=2
            )
        try:
            completion = await self._client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=max_tokens,
                temperature=0,
            )
        except OpenAIError as error:
            raise ChatError(
                f"{self.model} at {self.base_url}: {type(error).__name__}: {error}"[:300]
            ) from None
        if completion.usage is not None:
            usage.prompt += completion.usage.prompt_tokens
            usage.completion += completion.usage.completion_tokens
        text = completion.choices[0].message.content if completion.choices else None
        if not text or not text.strip():
            raise ChatError(f"{self.model} at {self.base_url} answered nothing")
        return text.strip()

    async def close(self) -> None:
        """Close the HTTP connections, if any were opened."""
        if self._client is not None:
            await self._client.close()
            self._client = None
