"""Owns counting a prompt's tokens: with the model's own tokenizer where it is at hand, else estimated.

The memory budget and the prompt's last guard are in tokens. LangChain's estimate (characters / 4)
is off by a tenth or more either way: a Spanish question and answer of 283 characters are 81 tokens
to it and 91 to cl100k_base (tests/memory/ai/test_tokens.py), so a budget in estimated tokens can
overflow the real window. tiktoken knows each OpenAI model's encoding, but loads its vocabulary
from the network the first time, and a server must not wait on that while answering: the exact
count is used when the vocabulary is already in tiktoken's cache (`TIKTOKEN_CACHE_DIR`, filled once
by `advisor-bot tokenizer fetch` or by the container build), otherwise the estimate, said once in
the log. A model tiktoken does not know (most other OpenAI-compatible servers) is estimated.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import tiktoken
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.utils import count_tokens_approximately

logger = logging.getLogger(__name__)

TokenCounter = Callable[[Sequence[BaseMessage]], int]
# Where tiktoken fetches each encoding the product may meet (tiktoken_ext.openai_public).
VOCABULARY_URLS = {
    name: f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
    for name in ("o200k_base", "cl100k_base")
}
# OpenAI's chat format: each message costs its role and separators, each reply its priming.
_PER_MESSAGE, _PER_REPLY, _PER_PICTURE = 3, 3, 85


def vocabulary_cache() -> Path | None:
    """The folder of tiktoken's cache, as tiktoken itself reads it (None: caching is switched off)."""
    for variable in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if variable in os.environ:
            return Path(os.environ[variable]) if os.environ[variable] else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def cached_vocabulary(encoding: str) -> Path | None:
    """The cached vocabulary file of an encoding, if tiktoken would find it without the network."""
    folder, url = vocabulary_cache(), VOCABULARY_URLS.get(encoding)
    if folder is None or url is None:
        return None
    path = folder / hashlib.sha1(url.encode()).hexdigest()  # noqa: S324 - tiktoken's cache key
    return path if path.is_file() else None


def encoding_name_for(model: str) -> str | None:
    """The tiktoken encoding of an OpenAI model name; None for a model tiktoken does not know."""
    try:
        return tiktoken.encoding_name_for_model(model)
    except KeyError:
        return None


def _encoding(name: str) -> tiktoken.Encoding | None:
    path = cached_vocabulary(name)
    return _loaded(name, path) if path is not None else None


@cache
def _loaded(name: str, path: Path) -> tiktoken.Encoding | None:
    """The encoding once its vocabulary is known to be at `path` (tiktoken reads it from there)."""
    try:
        return tiktoken.get_encoding(name)
    except (ValueError, OSError) as error:  # a damaged cache file: tiktoken would fetch again
        logger.warning("tokenizer vocabulary unreadable; tokens are estimated", extra={"error": str(error)})
        return None


def token_counter_for(model: str) -> tuple[TokenCounter, str]:
    """The counter for `model`'s prompts, and what it is (the encoding's name, or 'estimate')."""
    name = encoding_name_for(model)
    encoding = _encoding(name) if name else None
    if encoding is None:
        if name:
            logger.info(
                "tokenizer vocabulary not cached; tokens are estimated (advisor-bot tokenizer fetch)",
                extra={"encoding": name},
            )
        return count_tokens_approximately, "estimate"

    def count(messages: Sequence[BaseMessage]) -> int:
        total = _PER_REPLY
        for message in messages:
            total += _PER_MESSAGE + len(encoding.encode(_text_of(message), disallowed_special=()))
            if isinstance(message.content, list):
                total += _PER_PICTURE * sum(
                    1
                    for part in message.content
                    if isinstance(part, dict) and part.get("type") == "image_url"
                )
        return total

    return count, name or "estimate"


def _text_of(message: BaseMessage) -> str:
    """What of a message the model reads as text: its words, and the tool calls it made."""
    text = str(message.text)
    if isinstance(message, AIMessage) and message.tool_calls:
        text += json.dumps(
            [{"name": call["name"], "arguments": call["args"]} for call in message.tool_calls],
            ensure_ascii=False,
        )
    return text
