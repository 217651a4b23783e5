"""Owns telling open console pages that a conversation changed, within a second, in every process.

While a page is open on it, each web process looks twice a second for conversations changed
since its last look, whichever process (web, worker, CLI) made the change, and hands each
change to the pages open on it: an advisor's pages get only that advisor's changes, the admin's
get all. A look is one indexed query; a NOTIFY per changed row would cost more, since a
transaction that NOTIFYs commits alone (sql/0016_quiet_commits.sql). The same poll works behind
a transaction pooler, where LISTEN does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from bot.infra.database import single_statements
from memory.records.inbox import changed_since

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
# A transaction may commit a little after the time it wrote: polls look back this far, and a
# change already told is not told again.
POLL_OVERLAP = timedelta(seconds=5)
QUEUE_SIZE = 256
# Seconds a stream may go on telling changes before it asks again whether its session lives.
SESSION_RECHECK_SECONDS = 2.0


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
        self._streams: Counter[str] = Counter()

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

    def open_streams(self, session: str) -> int:
        """How many live pages of one session are open on this process."""
        return self._streams.get(session, 0)

    @contextlib.contextmanager
    def stream_slot(self, session: str, limit: int) -> Iterator[bool]:
        """Hold one of `limit` streams of one session; yields False when all are taken.

        Streams live for as long as a page is open, so they are not counted against the
        per-address cap (32 tabs behind one office address locked it out); each session gets a
        few of its own instead.
        """
        if self._streams[session] >= limit:
            yield False
            return
        self._streams[session] += 1
        try:
            yield True
        finally:
            self._streams[session] -= 1
            if self._streams[session] <= 0:
                del self._streams[session]

    def publish(self, advisor_id: str, conversation_id: str) -> None:
        """Hand one change to every page allowed to see it."""
        for subscription in self._subscriptions:
            if subscription.advisor_id is not None and str(subscription.advisor_id) != advisor_id:
                continue
            try:
                subscription.changes.put_nowait(conversation_id)
            except asyncio.QueueFull:
                subscription.overflowed = True


class ChangePoll:
    """Looks for rows changed since the last look; only while a page is open on this process."""

    def __init__(self, pool: AsyncConnectionPool[Any], hub: ConsoleHub) -> None:
        self._pool = pool
        self._hub = hub
        self._since: datetime | None = None
        self._told: dict[tuple[UUID, UUID], datetime] = {}

    async def look(self) -> None:
        """One look; changes newer than what was already told are handed on."""
        if not self._hub.listeners:
            self._since = None  # nobody to tell
            self._told.clear()
            return
        async with single_statements(self._pool) as conn:
            changes = await changed_since(conn=conn, since=self._since, overlap=POLL_OVERLAP)
        # The first look after pages opened also tells the last POLL_OVERLAP's changes: a page
        # may have loaded just before one of them, and telling a page twice costs it one refresh.
        for key, moment in changes.latest.items():
            if self._told.get(key) != moment:
                self._told[key] = moment
                self._hub.publish(str(key[0]), str(key[1]))
        horizon = changes.seen_at - POLL_OVERLAP * 2
        self._told = {key: moment for key, moment in self._told.items() if moment >= horizon}
        self._since = changes.seen_at


async def stream(
    subscription: Subscription,
    *,
    still_allowed: Callable[[], Awaitable[bool]],
    keepalive_seconds: float = 15.0,
    recheck_seconds: float = SESSION_RECHECK_SECONDS,
) -> AsyncIterator[str]:
    """Server-sent events for one page: `change` with a conversation id, `reload` after an overflow.

    `still_allowed()` is asked at every keep-alive, and before a change when the last answer is
    `recheck_seconds` old: a session that ended (sign-out, deactivation, revocation) closes its
    stream within that.
    """
    yield "retry: 2000\n\n"
    checked_at = time.monotonic()
    while True:
        try:
            conversation_id = await asyncio.wait_for(subscription.changes.get(), timeout=keepalive_seconds)
        except TimeoutError:
            if not await still_allowed():
                yield "event: ended\ndata: signed out\n\n"
                return
            checked_at = time.monotonic()
            yield ": keep-alive\n\n"
            continue
        # A busy stream never reaches its keep-alive: check the session before telling, when the
        # last check is a few seconds old, so a sign-out closes it at once (not 15 s of changes on).
        if time.monotonic() - checked_at >= recheck_seconds:
            if not await still_allowed():
                yield "event: ended\ndata: signed out\n\n"
                return
            checked_at = time.monotonic()
        if subscription.overflowed:
            subscription.overflowed = False
            yield "event: reload\ndata: many changes\n\n"
            continue
        yield f"event: change\ndata: {conversation_id}\n\n"
