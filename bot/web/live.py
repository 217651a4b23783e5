"""Owns telling open console pages that a conversation changed, within a second, in every process.

Triggers on `messages`, `chat_history` and `conversation_notes` NOTIFY `advisor_bot_console`
with "<advisor id> <conversation id>" whichever process (web, worker, CLI) made the change. Each
web process keeps one LISTEN session and hands each change to the pages open on it: an advisor's
pages get only that advisor's changes, the admin's get all. Behind a transaction pooler, where
LISTEN does not work, the process polls for changed rows every second instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg

from memory.records.inbox import changed_since

logger = logging.getLogger(__name__)

CHANNEL = "advisor_bot_console"
POLL_SECONDS = 1.0
# A transaction may commit a little after the time it wrote: polls look back this far, and a
# change already told is not told again.
POLL_OVERLAP = timedelta(seconds=5)
QUEUE_SIZE = 256


@dataclass(eq=False)
class Subscription:
    """One open page's stream of changed conversation ids; `overflowed` asks it to reload whole."""

    advisor_id: UUID | None
    changes: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False


class ConsoleHub:
    """The open pages of one process, and who may hear which change."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    @property
    def listeners(self) -> int:
        """How many pages are open on this process."""
        return len(self._subscriptions)

    @contextlib.contextmanager
    def subscribe(self, advisor_id: UUID | None) -> Iterator[Subscription]:
        """Hear changes of one advisor's conversations (None: the admin hears all) while open."""
        subscription = Subscription(advisor_id)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    def publish(self, advisor_id: str, conversation_id: str) -> None:
        """Hand one change to every page allowed to see it."""
        for subscription in self._subscriptions:
            if subscription.advisor_id is not None and str(subscription.advisor_id) != advisor_id:
                continue
            try:
                subscription.changes.put_nowait(conversation_id)
            except asyncio.QueueFull:
                subscription.overflowed = True

    def publish_payload(self, payload: str) -> None:
        """Hand on a NOTIFY payload ("<advisor id> <conversation id>"); anything else is ignored."""
        advisor_id, _, conversation_id = payload.partition(" ")
        if advisor_id and conversation_id:
            self.publish(advisor_id, conversation_id)


async def follow_changes(
    conninfo: str, hub: ConsoleHub, *, connection_kwargs: dict[str, Any], ready: asyncio.Event | None = None
) -> None:
    """LISTEN and hand on every change until the connection ends (the caller runs it again)."""
    async with await psycopg.AsyncConnection.connect(
        conninfo, **{**connection_kwargs, "autocommit": True}
    ) as conn:
        await conn.execute(f"LISTEN {CHANNEL}")
        if ready is not None:
            ready.set()
        async for notify in conn.notifies():
            hub.publish_payload(notify.payload)


class ChangePoll:
    """The pooler's way: look for rows changed since the last look, once a second."""

    def __init__(self, conninfo: str, hub: ConsoleHub, *, connection_kwargs: dict[str, Any]) -> None:
        self._conninfo = conninfo
        self._hub = hub
        self._kwargs = {**connection_kwargs, "autocommit": True}
        self._since: datetime | None = None
        self._told: dict[tuple[UUID, UUID], datetime] = {}

    async def look(self) -> None:
        """One look; changes newer than what was already told are handed on."""
        async with await psycopg.AsyncConnection.connect(self._conninfo, **self._kwargs) as conn:
            cursor = await conn.execute("SELECT clock_timestamp() AS now")
            row = await cursor.fetchone()
            assert row is not None
            now: datetime = row["now"]
            if self._since is None:
                self._since = now
                return
            changes = await changed_since(conn=conn, since=self._since - POLL_OVERLAP)
        for (advisor_id, conversation_id), moment in changes.items():
            if self._told.get((advisor_id, conversation_id)) != moment:
                self._told[(advisor_id, conversation_id)] = moment
                self._hub.publish(str(advisor_id), str(conversation_id))
        horizon = now - POLL_OVERLAP * 2
        self._told = {key: moment for key, moment in self._told.items() if moment >= horizon}
        self._since = now


async def stream(
    subscription: Subscription,
    *,
    still_allowed: Callable[[], Awaitable[bool]],
    keepalive_seconds: float = 15.0,
) -> AsyncIterator[str]:
    """Server-sent events for one page: `change` with a conversation id, `reload` after an overflow.

    `still_allowed()` is asked at every keep-alive: a session that ended (sign-out,
    deactivation, revocation) closes its stream.
    """
    yield "retry: 2000\n\n"
    while True:
        try:
            conversation_id = await asyncio.wait_for(subscription.changes.get(), timeout=keepalive_seconds)
        except TimeoutError:
            if not await still_allowed():
                yield "event: ended\ndata: signed out\n\n"
                return
            yield ": keep-alive\n\n"
            continue
        if subscription.overflowed:
            subscription.overflowed = False
            yield "event: reload\ndata: many changes\n\n"
            continue
        yield f"event: change\ndata: {conversation_id}\n\n"
