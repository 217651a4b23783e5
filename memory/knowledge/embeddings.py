"""Owns asking an OpenAI-compatible server for embeddings (`POST {base}/embeddings`).

Plain HTTP (httpx) rather than the openai package: the web side searches knowledge too, and it
never loads the AI client libraries (an import-linter contract keeps it so).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

OPENAI_API_BASE = "https://api.openai.com/v1"
BATCH = 64  # inputs per request: well inside every provider's limit


class EmbeddingError(Exception):
    """The embeddings server did not answer usefully; the message says why (never the key)."""


@dataclass
class Embedder:
    """One embeddings model at one OpenAI-compatible address.

    One HTTP client is kept for the process's event loop, so a question the agent searches does
    not open a new connection (and TLS session) to the embeddings server each time.
    """

    model: str
    base_url: str
    api_key: str
    timeout_seconds: float = 30.0
    # Told the prompt tokens of each batch the server answered (the cost meter listens).
    on_usage: Callable[[int], None] | None = field(default=None, repr=False, compare=False)
    _client: httpx.AsyncClient | None = field(default=None, repr=False, compare=False)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order; raises EmbeddingError on any failure."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout_seconds)
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            vectors += await self._batch(self._client, texts[start : start + BATCH])
        return vectors

    async def aclose(self) -> None:
        """Close the kept connection (at shutdown); a later call opens a new one."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _batch(self, client: httpx.AsyncClient, texts: list[str]) -> list[list[float]]:
        try:
            response = await client.post(
                f"{self.base_url}/embeddings",
                json={"model": self.model, "input": texts},
                headers={"Authorization": f"Bearer {self.api_key}"},
            )
        except httpx.HTTPError as error:
            raise EmbeddingError(f"embeddings server unreachable: {type(error).__name__}") from error
        if response.status_code != 200:
            raise EmbeddingError(f"embeddings server answered {response.status_code}")
        try:
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = [[float(x) for x in item["embedding"]] for item in data]
        except (ValueError, KeyError, TypeError) as error:
            raise EmbeddingError("embeddings server answered something unreadable") from error
        if len(vectors) != len(texts) or not all(vectors):
            raise EmbeddingError(f"asked {len(texts)} embeddings, got {len(vectors)}")
        if self.on_usage is not None:
            usage = response.json().get("usage") or {}
            tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
            # A server that does not say is estimated like the prompt guard does: 4 characters a token.
            self.on_usage(int(tokens) if isinstance(tokens, int) else sum(len(t) for t in texts) // 4 + 1)
        return vectors
