"""Owns `advisor-bot tokenizer fetch`: the model's tokenizer vocabulary into tiktoken's cache, once.

The worker counts prompt tokens exactly only when the vocabulary is already cached (it never
waits on the network while answering; memory.ai.tokens). This is the one step that fetches it,
run where the network reaches OpenAI, with the same `TIKTOKEN_CACHE_DIR` the worker will have.
"""

from __future__ import annotations

import tiktoken

from bot.cli.console import fail, say
from bot.settings import Settings
from memory.ai.tokens import cached_vocabulary, encoding_name_for, vocabulary_cache


def fetch(settings: Settings) -> int:
    """Cache the configured model's vocabulary; say where, or why there is none to fetch."""
    model = settings.openai_model
    name = encoding_name_for(model)
    if name is None:
        say(f"tiktoken knows no tokenizer for the model {model!r}: its tokens are estimated (characters / 4)")
        return 0
    if vocabulary_cache() is None:
        return fail("TIKTOKEN_CACHE_DIR is empty, which switches tiktoken's cache off: set it to a folder")
    if cached_vocabulary(name) is None:
        try:
            tiktoken.get_encoding(name)
        except Exception as error:  # noqa: BLE001 - any failure of the download is reported as one line
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return fail(f"could not fetch the {name} vocabulary: {reason}")
    say(
        f"{name} (the tokenizer of {model}) is cached in {vocabulary_cache()}: "
        "prompt tokens are counted exactly"
    )
    return 0
