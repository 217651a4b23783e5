"""Owns the customer's profile as the agent reads it: rendered once, cached while it is unchanged.

The cache key holds the conversation's `profile_updated_at`, which the worker reads with the
conversation anyway: a change from the agent, the API or the console is seen at the very next
turn, and an unchanged profile costs no query and no rendering for five minutes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from cachetools import TTLCache
from psycopg_pool import AsyncConnectionPool

from bot.agent.prompts import profile_block
from memory.records import profiles
from memory.records.models import Conversation

PROFILE_CACHE_SECONDS = 300


class ProfilePrompts:
    """Rendered profile blocks by (conversation, last profile change)."""

    def __init__(self, ttl: float = PROFILE_CACHE_SECONDS, maxsize: int = 10_000) -> None:
        self._cache: TTLCache[tuple[UUID, datetime | None, str | None], str] = TTLCache(maxsize, ttl)

    async def block(self, pool: AsyncConnectionPool[Any], conversation: Conversation) -> str:
        """The profile block for this conversation's prompt ("" when nothing is known)."""
        key = (conversation.conversation_id, conversation.profile_updated_at, conversation.profile_name)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if conversation.profile_updated_at is None and not conversation.profile_name:
            rendered = ""
        else:
            async with pool.connection() as conn:
                profile = await profiles.get_profile(
                    conn=conn,
                    advisor_id=conversation.advisor_id,
                    conversation_id=conversation.conversation_id,
                )
            rendered = profile_block(profile) if profile else ""
        self._cache[key] = rendered
        return rendered
